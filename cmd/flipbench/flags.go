package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/server"
)

// enumValue is a string flag limited to a set of choices, and to
// aliases of them that it accepts without listing.
type enumValue struct {
	value   *string
	choices []string
	aliases map[string]string
}

// withAlias makes e accept alias as another name for choice.
func (e *enumValue) withAlias(alias, choice string) *enumValue {
	if e.aliases == nil {
		e.aliases = map[string]string{}
	}
	e.aliases[alias] = choice
	return e
}

func newEnum(p *string, def string, choices ...string) *enumValue {
	*p = def
	return &enumValue{value: p, choices: choices}
}

func (e *enumValue) String() string { return *e.value }
func (e *enumValue) Type() string   { return strings.Join(e.choices, "|") }
func (e *enumValue) Set(s string) error {
	if choice, ok := e.aliases[s]; ok {
		s = choice
	}
	if !slices.Contains(e.choices, s) {
		return fmt.Errorf("must be one of %s", strings.Join(e.choices, ", "))
	}
	*e.value = s
	return nil
}

// byteSize is an int64 flag that takes sizes like 64MiB, 10MB or 1048576.
type byteSize struct{ value *int64 }

func newByteSize(p *int64, def int64) *byteSize {
	*p = def
	return &byteSize{p}
}

// sizeUnits are the suffixes byteSize reads, longest match first.
var sizeUnits = []struct {
	suffix string
	n      int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

func (b *byteSize) Type() string { return "size" }
func (b *byteSize) String() string {
	v := *b.value
	for _, u := range sizeUnits[:3] { // shown in binary units
		if v >= u.n && v%u.n == 0 {
			return strconv.FormatInt(v/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a size like 64MiB, 10MB or 1048576")
	}
	if n == 0 { // never "the default" in disguise
		return fmt.Errorf("must be at least 1 byte")
	}
	*b.value = n * mult
	return nil
}

// intAtLeast is an int flag with a lower bound, checked as it is parsed,
// so that a flag never passes on a value its library would read as "the
// default" (zero) or reject later.
type intAtLeast struct {
	value    *int
	min, max int
	rule     string // why max, if it is the machine's bound
}

func newIntAtLeast(p *int, def, min int) *intAtLeast {
	*p = def
	return &intAtLeast{value: p, min: min, max: math.MaxInt}
}

// newIntRange is an int flag within [min, max].
func newIntRange(p *int, def, min, max int) *intAtLeast {
	*p = def
	return &intAtLeast{value: p, min: min, max: max}
}

func (v *intAtLeast) Type() string   { return "int" }
func (v *intAtLeast) String() string { return strconv.Itoa(*v.value) }
func (v *intAtLeast) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a whole number")
	}
	switch {
	case n > v.max && v.rule != "":
		return fmt.Errorf("must be at most %s", v.rule)
	case v.max != math.MaxInt && (n < v.min || n > v.max):
		return fmt.Errorf("must be between %d and %d", v.min, v.max)
	case n < v.min:
		return fmt.Errorf("must be >= %d", v.min)
	}
	*v.value = n
	return nil
}

// newWorkers is a flag of worker processes, from min to what the machine
// holds ([server.MaxWorkers]): a typo of 100000 is refused before a
// single fork, not discovered as a fork storm.
func newWorkers(p *int, def, min int) *intAtLeast {
	*p = def
	return &intAtLeast{value: p, min: min, max: server.MaxWorkers(), rule: server.MaxWorkersRule()}
}

// intList is a list of ints, each with a lower bound (and an upper one,
// with its rule, where max is not zero) and none twice: "1,2,3,4", or
// the flag repeated.
type intList struct {
	value *[]int
	min   int
	max   int
	rule  string
	set   bool
}

// newWorkersList is newWorkers for a list of sizes.
func newWorkersList(p *[]int, def []int) *intList {
	*p = def
	return &intList{value: p, min: 1, max: server.MaxWorkers(), rule: server.MaxWorkersRule()}
}

func (v *intList) Type() string { return "ints" }
func (v *intList) String() string {
	s := make([]string, len(*v.value))
	for i, n := range *v.value {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (v *intList) Set(s string) error {
	if !v.set { // the first use replaces the default, later ones add
		*v.value, v.set = nil, true
	}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("want whole numbers separated by commas, like 1,2,4; got %q", f)
		}
		if n < v.min {
			return fmt.Errorf("must be >= %d, got %d", v.min, n)
		}
		if v.max > 0 && n > v.max {
			return fmt.Errorf("must be at most %s, got %d", v.rule, n)
		}
		if slices.Contains(*v.value, n) {
			return fmt.Errorf("%d given twice", n)
		}
		*v.value = append(*v.value, n)
	}
	return nil
}

// enumList is a list of choices, none twice: "shared,rr", or the flag
// repeated; all stands for every choice.
type enumList struct {
	value   *[]string
	choices []string
	set     bool
}

func newEnumList(p *[]string, choices ...string) *enumList {
	return &enumList{value: p, choices: choices}
}

func (e *enumList) Type() string   { return strings.Join(e.choices, "|") + "|all" }
func (e *enumList) String() string { return strings.Join(*e.value, ",") }
func (e *enumList) Set(s string) error {
	if !e.set {
		*e.value, e.set = nil, true
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		names := []string{f}
		if f == "all" {
			names = e.choices
		} else if !slices.Contains(e.choices, f) {
			return fmt.Errorf("%q: want one or more of %s, or all", f, strings.Join(e.choices, ", "))
		}
		for _, n := range names {
			if slices.Contains(*e.value, n) {
				return fmt.Errorf("%s given twice", n)
			}
			*e.value = append(*e.value, n)
		}
	}
	return nil
}

// percentileList is a list of percentiles, each within (0, 100] and
// none twice, kept in the order given: "50,95,99.9".
type percentileList struct {
	value *[]float64
	set   bool
}

func newPercentiles(p *[]float64, def []float64) *percentileList {
	*p = def
	return &percentileList{value: p}
}

func (v *percentileList) Type() string { return "percentiles" }
func (v *percentileList) String() string {
	s := make([]string, len(*v.value))
	for i, p := range *v.value {
		s[i] = strconv.FormatFloat(p, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func (v *percentileList) Set(s string) error {
	if !v.set {
		*v.value, v.set = nil, true
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimPrefix(strings.TrimSpace(f), "p")
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(p) {
			return fmt.Errorf("want percentiles separated by commas, like 50,95,99.9; got %q", f)
		}
		if p <= 0 || p > 100 {
			return fmt.Errorf("percentile %g: want above 0, up to 100", p)
		}
		if slices.Contains(*v.value, p) {
			return fmt.Errorf("%g given twice", p)
		}
		*v.value = append(*v.value, p)
	}
	return nil
}
