package scenarios

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a scenario. Parse and Validate return every problem they
// find joined with errors.Join, so printing the error gives one problem per line.
type Problem struct {
	File  string // scenario file; empty for a scenario built in code
	Line  int    // 1-based line in File; 0 when unknown (a missing field, a scenario built in code)
	Field string // field path such as "load.rate" or "faults[0].target"; empty for the whole file
	Msg   string // what was found and what is allowed
}

// Error formats p as "file:line: field: msg", leaving out the parts that are unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems returns the problems joined in err, in order; nil when err holds none.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(err error) {
		if p, ok := err.(*Problem); ok {
			out = append(out, p)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if e := errors.Unwrap(err); e != nil {
			walk(e)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// join orders problems by line, the ones without a line last, so that they read like the file.
func join(problems []*Problem) error {
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i].Line, problems[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}
