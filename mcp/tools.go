package mcp

// The rules an agent needs, said once and repeated where a tool needs them.
const (
	ruleLabels = "Action ids are optional: leave them out, or give an action a readable label such as " +
		`"main-menu" as its id and use that label in next_id, goto's target_id, branch's target_ids and ` +
		"default_target_id, and condition_*'s false_target_id; the server turns labels into UUIDs (the same UUID " +
		"in every revision) and keeps the label as the action's name. An action may also have a name for people " +
		"(name, at most 100 characters), shown on the graph. Do not invent UUIDs."
	ruleIfMatch = "Pass the etag you read (get_flow, create_flow, update_flow answer it) as if_match: a concurrent " +
		"change by someone else is then refused (412) instead of being overwritten. Read the flow again and redo " +
		"the change on what you read."
	ruleCalls  = "Calls already in progress keep the actions they started with: changes never reach them."
	ruleTools  = "Check a flow with validate_flow and try it with simulate_actions or simulate_flow before saving it."
	ruleOption = "Each action type's options are described by describe_action_type."
)

// toolSpec declares a tool that is one operation of the REST API.
type toolSpec struct {
	name, title string
	description string
	opID        string
	params      []string // the operation's parameters the tool takes (spec names)
	readOnly    bool
	destructive bool
	idempotent  bool
	openWorld   bool
	// defaults are arguments sent when the caller leaves them out.
	defaults map[string]any
	// text names the structured field that holds a non-JSON answer (draw_flow's Mermaid).
	text string
}

var restTools = []toolSpec{
	{
		name: "list_flows", title: "List flows", opID: "listFlows", params: []string{"page_size", "page_token"},
		readOnly: true, idempotent: true,
		description: "Lists your flows, newest first (deleted flows are not listed). For the next page, pass " +
			"next_page_token as page_token.",
	},
	{
		name: "get_flow", title: "Get a flow", opID: "getFlow", params: []string{"id"},
		readOnly: true, idempotent: true,
		description: "Reads one of your flows, with its etag (pass it as if_match to update_flow, delete_flow and " +
			"restore_flow_revision). Flows of other customers and deleted flows are not found.",
	},
	{
		name: "create_flow", title: "Create a flow", opID: "createFlow",
		description: "Stores a new flow (name, detail, actions, on_complete_flow_id) and answers it as stored, at " +
			"revision 1, with its etag. The whole flow is validated first: when anything is wrong nothing is stored " +
			"and every problem comes back with the JSON Pointer of its place in the arguments. Warnings do not " +
			"block saving. " + ruleLabels + " " + ruleOption + " " + ruleTools,
	},
	{
		name: "update_flow", title: "Replace a flow", opID: "updateFlow", params: []string{"id", "If-Match"},
		destructive: true, idempotent: true,
		description: "Replaces a flow's name, detail, actions and on_complete_flow_id wholesale (fields left out " +
			"become empty), as a new revision; sending the current definition again changes nothing. Validated like " +
			"create_flow. " + ruleIfMatch + " " + ruleCalls + " " + ruleLabels,
	},
	{
		name: "delete_flow", title: "Delete a flow", opID: "deleteFlow", params: []string{"id", "If-Match"},
		destructive: true, idempotent: true,
		description: "Deletes a flow (soft: it leaves every list and is not found from then on; its revisions " +
			"stay). " + ruleCalls + " " + ruleIfMatch,
	},
	{
		name: "validate_flow", title: "Check a flow", opID: "validateFlow",
		readOnly: true, idempotent: true,
		description: "Checks a flow definition exactly as create_flow would, and stores nothing. Answers valid, " +
			"and every error (blocks saving) and warning (unreachable actions, a goto without loop_count, a branch " +
			"without default_target_id, unknown option keys), in document order, each with a JSON Pointer into the " +
			"arguments, a stable reason and a message that says how to fix it (such as a suggested action type). " +
			ruleLabels + " " + ruleOption,
	},
	{
		name: "simulate_flow", title: "Simulate a stored flow", opID: "simulateFlow", params: []string{"id"},
		readOnly: true, idempotent: true,
		description: "Runs a stored flow's current revision to its end without a phone, and answers the trace: " +
			"every action run, each branch or condition decision and why, the variables, and how it ended. The " +
			"script says what the caller does: digits (what each digits_receive gets, in turn), variables (start " +
			"variables), steps (the variables each runner action reports), now (the clock for condition_datetime). " +
			"What simulate does not do: no call is placed or answered, nothing is played, spoken or recorded, no " +
			"webhook or fetch is sent, nothing is stored; actions other than the control ones (goto, branch, " +
			"condition_*, variable_set, stop, ...) complete at once with what the script says.",
	},
	{
		name: "simulate_actions", title: "Simulate actions", opID: "simulateActions",
		readOnly: true, idempotent: true,
		description: "Like simulate_flow, for actions given inline (validated like a flow's, labels allowed), " +
			"before anything is saved. Nothing is stored, no call is placed, no webhook or fetch is sent. " +
			ruleLabels,
	},
	{
		name: "draw_flow", title: "Draw a flow", opID: "getFlowGraph", params: []string{"id", "format", "revision"},
		readOnly: true, idempotent: true, defaults: map[string]any{"format": "mermaid"}, text: "graph",
		description: "Draws a stored flow (its current revision, or revision) as a Mermaid flowchart (the " +
			"default), Graphviz DOT, or JSON nodes and edges: every move between actions and the actions that can " +
			"never run. Show the Mermaid text to people to explain a flow.",
	},
	{
		name: "list_flow_revisions", title: "List a flow's revisions", opID: "listFlowRevisions",
		params: []string{"id", "page_size", "page_token"}, readOnly: true, idempotent: true,
		description: "Lists the revisions of one of your flows, newest first: every create, update and restore " +
			"wrote one, with the whole definition, who made it and when.",
	},
	{
		name: "get_flow_revision", title: "Get a revision of a flow", opID: "getFlowRevision",
		params: []string{"id", "revision"}, readOnly: true, idempotent: true,
		description: "Reads one revision of one of your flows.",
	},
	{
		name: "restore_flow_revision", title: "Restore a revision", opID: "restoreFlowRevision",
		params: []string{"id", "revision", "If-Match"}, idempotent: true,
		description: "Makes an old revision of a flow current again, as a new revision (the history is kept; " +
			"restoring the current revision changes nothing). " + ruleIfMatch + " " + ruleCalls,
	},
	{
		name: "list_activeflows", title: "List activeflows", opID: "listActiveflows",
		params: []string{"page_size", "page_token"}, readOnly: true, idempotent: true,
		description: "Lists your activeflows (executions of flows), newest first.",
	},
	{
		name: "start_activeflow", title: "Start an activeflow", opID: "createActiveflow", openWorld: true,
		description: "Starts a real execution of a flow (flow_id, at its current revision) or of inline actions, " +
			"seeded with variables. Unlike a simulation it is stored, sends its events to webhooks, and its " +
			"webhook_send and fetch actions reach the network. The answer shows the action it waits on " +
			"(current_action). To only try a flow, use simulate_flow or simulate_actions instead.",
	},
	{
		name: "get_activeflow", title: "Inspect an activeflow", opID: "getActiveflow", params: []string{"id"},
		readOnly: true, idempotent: true,
		description: "Reads one of your activeflows: its status, the action it waits on, every action it ran, " +
			"and its variables.",
	},
	{
		name: "stop_activeflow", title: "Stop an activeflow", opID: "stopActiveflow", params: []string{"id"},
		destructive: true, idempotent: true,
		description: "Stops one of your activeflows: it runs no further action.",
	},
}
