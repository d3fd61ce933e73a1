package flowbin

import _ "embed"

//go:embed docs/execution.md
var executionDoc []byte

// ExecutionDoc returns docs/execution.md, how flows run: served to AI agents by the MCP server.
func ExecutionDoc() []byte { return executionDoc }
