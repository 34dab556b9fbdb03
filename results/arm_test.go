package results

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestArmKeepsEverySpecField: every field of ArmSpec, present and to
// come, is written to the run file and read back; "workers" is the arm's
// process count, not the requests each worker answered.
func TestArmKeepsEverySpecField(t *testing.T) {
	t.Parallel()
	var spec ArmSpec
	v := reflect.ValueOf(&spec).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value-" + v.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(i + 2))
		default:
			t.Fatalf("ArmSpec.%s is a %s: teach this test to fill it", v.Type().Field(i).Name, f.Kind())
		}
	}
	a := Arm{ArmSpec: spec, Stats: Stats{RequestsPerWorker: map[string]int{"4121": 3}}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Arm
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ArmSpec != spec {
		t.Errorf("read back %+v, want %+v\nfrom %s", back.ArmSpec, spec, b)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	if raw["workers"] != float64(spec.Workers) || raw["requests_per_worker"] == nil {
		t.Errorf("workers %v, requests_per_worker %v: want the process count and the map\n%s", raw["workers"], raw["requests_per_worker"], b)
	}
}
