package cli

func benchCmd(e env, args []string) int {
	fs := flags(e, "bench", `
Usage: testbed bench

Not yet implemented.
`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	return 1
}
