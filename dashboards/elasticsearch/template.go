// Package elasticsearch ships the index template of the run logs inside
// the binary, so a run outside the repository can still apply it.
package elasticsearch

import _ "embed" // the template is data, not code

//go:embed index-template.json
var template []byte

// Template is index-template.json.
func Template() []byte { return template }
