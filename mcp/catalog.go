package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/flow"
)

// The action catalog comes from openapi.yaml too: ActionType's enum and the ActionOption… schema of each type.

// catalogEntry is one action type in the catalog.
type catalogEntry struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Control     bool   `json:"control"`
}

func (s *spec) catalog() ([]catalogEntry, error) {
	types, err := s.actionTypes()
	if err != nil {
		return nil, err
	}
	schemas := obj(obj(s.doc["components"])["schemas"])
	out := make([]catalogEntry, 0, len(types))
	for _, t := range types {
		name := flow.Type(t).OptionSchema()
		sch := obj(schemas[name])
		if sch == nil {
			return nil, fmt.Errorf("mcp: the API description has no %s for action type %q", name, t)
		}
		d, _ := sch["description"].(string)
		out = append(out, catalogEntry{Type: t, Description: strings.TrimSpace(d), Control: flow.IsControl(flow.Type(t))})
	}
	return out, nil
}

const catalogNote = "Control actions (control: true) are run by flowbin itself, in simulations too; every other " +
	"action is performed by the telephony runner, and in a simulation completes at once with what the script says."

func addCatalog(s *sdk.Server, sp *spec) error {
	entries, err := sp.catalog()
	if err != nil {
		return err
	}
	types := make([]any, len(entries))
	for i, e := range entries {
		types[i] = e.Type
	}
	s.AddTool(&sdk.Tool{
		Name:  "list_action_types",
		Title: "List the action types",
		Description: "Lists every action type a flow can use, with what it does. " + catalogNote +
			" describe_action_type gives one type's options.",
		InputSchema: map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false},
		Annotations: &sdk.ToolAnnotations{Title: "List the action types", ReadOnlyHint: true, IdempotentHint: true,
			DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}, func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return structuredResult(map[string]any{"action_types": entries, "note": catalogNote})
	})
	s.AddTool(&sdk.Tool{
		Name:  "describe_action_type",
		Title: "Describe an action type",
		Description: "Describes one action type's options (the option object of an action of that type) as a JSON " +
			"Schema, from flowbin's API description. Option fields that refer to another action of the flow take " +
			"its label or UUID.",
		InputSchema: map[string]any{
			"type":                 "object",
			"required":             []any{"type"},
			"additionalProperties": false,
			"properties":           map[string]any{"type": map[string]any{"type": "string", "enum": types, "description": "The action type, such as talk."}},
		},
		Annotations: &sdk.ToolAnnotations{Title: "Describe an action type", ReadOnlyHint: true, IdempotentHint: true,
			DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}, func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		var args struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(req.Params.Arguments, &args)
		for _, e := range entries {
			if e.Type != args.Type {
				continue
			}
			sch, err := sp.schema(flow.Type(e.Type).OptionSchema())
			if err != nil {
				return nil, err
			}
			return structuredResult(map[string]any{"type": e.Type, "description": e.Description, "control": e.Control, "option_schema": sch})
		}
		return toolError(fmt.Sprintf("unknown action type %q: list_action_types lists them", args.Type), nil), nil
	})
	return nil
}

func structuredResult(v map[string]any) (*sdk.CallToolResult, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}, StructuredContent: v}, nil
}

// The resources.
const (
	executionURI = "flowbin://docs/execution"
	catalogURI   = "flowbin://catalog/actions"
)

func addResources(s *sdk.Server, sp *spec) {
	s.AddResource(&sdk.Resource{
		URI: executionURI, Name: "execution", Title: "How flowbin runs a flow", MIMEType: "text/markdown",
		Description: "docs/execution.md: activeflows, steps, the runner, control actions, variables, limits and " +
			"simulation.",
	}, func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{
			{URI: req.Params.URI, MIMEType: "text/markdown", Text: string(flowbin.ExecutionDoc())},
		}}, nil
	})
	s.AddResource(&sdk.Resource{
		URI: catalogURI, Name: "action-catalog", Title: "The action catalog", MIMEType: "application/json",
		Description: "Every action type with what it does and the JSON Schema of its options.",
	}, func(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		entries, err := sp.catalog()
		if err != nil {
			return nil, err
		}
		type full struct {
			catalogEntry
			OptionSchema map[string]any `json:"option_schema"`
		}
		all := make([]full, 0, len(entries))
		for _, e := range entries {
			sch, err := sp.schema(flow.Type(e.Type).OptionSchema())
			if err != nil {
				return nil, err
			}
			all = append(all, full{e, sch})
		}
		b, err := json.Marshal(map[string]any{"action_types": all, "note": catalogNote})
		if err != nil {
			return nil, err
		}
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{
			{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)},
		}}, nil
	})
}

// buildIVR is the prompt's text: from a description of an IVR to a validated, simulated flow.
const buildIVR = `Build a flowbin call flow for this IVR:

%s

Work in this order, and do not skip a step:
1. Call list_action_types, then describe_action_type for each type you plan to use (typically answer, talk, play,
   digits_receive, branch, condition_variable, goto, connect, hangup). Read the resource flowbin://docs/execution
   for how actions run, how variables like ${voipbin.call.digits} are set, and how loops are bounded.
2. Write the actions. Give every action a readable label as its id ("welcome", "menu", "sales") and refer to the
   labels in next_id, branch's target_ids and default_target_id, goto's target_id and condition_*'s
   false_target_id. Never invent UUIDs. Give every branch a default_target_id and every goto a loop_count.
3. Call validate_flow with name, detail and actions. Fix every error at its JSON Pointer and re-validate until valid
   is true; fix the warnings too unless you can say why one is intended.
4. Call simulate_actions once per path a caller can take: give digits (what each digits_receive receives, in turn)
   and variables, and check from the trace that each path runs the actions you meant and ends as you meant. Include
   a caller who presses nothing and one who presses a wrong key.
5. Call create_flow with the validated actions. Then call draw_flow on the new flow and show the Mermaid diagram.
6. For any later change, get_flow, edit, validate_flow, and update_flow with the etag as if_match.
Remember: simulations place no call, play nothing and send no webhook; they only run the flow's logic.`

func addPrompts(s *sdk.Server) {
	s.AddPrompt(&sdk.Prompt{
		Name:        "build_ivr",
		Title:       "Build an IVR flow",
		Description: "Walks you from a description of an IVR to a validated, simulated, stored flow.",
		Arguments: []*sdk.PromptArgument{{
			Name: "description", Title: "The IVR", Required: true,
			Description: "What the IVR does, in words: its greeting, its menu options and where each leads.",
		}},
	}, func(_ context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
		desc := strings.TrimSpace(req.Params.Arguments["description"])
		if desc == "" {
			return nil, fmt.Errorf("the description argument is required")
		}
		return &sdk.GetPromptResult{
			Description: "Build a validated, simulated IVR flow",
			Messages: []*sdk.PromptMessage{{
				Role:    "user",
				Content: &sdk.TextContent{Text: fmt.Sprintf(buildIVR, desc)},
			}},
		}, nil
	})
}
