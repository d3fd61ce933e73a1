package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store"
	"github.com/flowbin/flowbin/store/storetest"
)

// TestCustomerWebhook: the webhook settings read back as written; an unknown customer is a *NotFoundError.
func TestCustomerWebhook(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newFixture(t, b)
		ctx := context.Background()
		if err := f.st.SetCustomerWebhook(ctx, f.alice, "https://example.com/hooks", "PUT", "sealed"); err != nil {
			t.Fatal(err)
		}
		if err := f.st.SetCustomerEventVariables(ctx, f.alice, true); err != nil {
			t.Fatal(err)
		}
		hook, err := f.st.GetCustomerWebhook(ctx, f.alice)
		if err != nil {
			t.Fatal(err)
		}
		if hook.URI != "https://example.com/hooks" || hook.Method != "PUT" || hook.SealedSecret != "sealed" ||
			!hook.EventVariables || hook.TMUpdate == nil {
			t.Errorf("got %+v", hook)
		}
		if hook, err := f.st.GetCustomerWebhook(ctx, f.bob); err != nil || hook.URI != "" || hook.EventVariables {
			t.Errorf("bob has no webhook: got %+v, %v", hook, err)
		}
		missing := uuid.New()
		_, err = f.st.GetCustomerWebhook(ctx, missing)
		var nf *store.NotFoundError
		if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &nf) || nf.Resource != "customer" || nf.ID != missing.String() {
			t.Errorf("unknown customer: got %v, want a *NotFoundError of customer %s", err, missing)
		}
	})
}
