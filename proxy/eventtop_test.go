package proxy

import (
	"encoding/json"
	"os"
	"testing"
)

// eventTopSeeds cover odd input: keys in other cases (not ours),
// duplicates, nulls, escapes, wrong types, invalid JSON.
var eventTopSeeds = []string{
	`{"type":"StasisStart","application":"demo","asterisk_id":"02:fc","channel":{"id":"c1","type":"x"}}`,
	`{"Type":"A","TYPE":"B","application":null,"Asterisk_ID":"n\u00e9"}`,
	`{"type":"A","type":null}`, `{"typ\u0065":"E","application":"a\"b"}`, `{"type":5}`, `{"application":[]}`,
	`{"type":"A","x":[1,{"type":"inner"}]}`, `{"\u212aey":"kelvin","asterisk_id":"n","ASTERI\u017fK_ID":"m"}`,
	`{}`, `null`, `[]`, `"s"`, `{"type":"A"} x`, `{"type":"A",}`, `{`, ``, "{\"type\":\"\xff\"}",
}

// exactTop is the reference for eventTop.decode: the members named exactly
// "type", "application" and "asterisk_id" of a valid JSON object, the last
// duplicate winning, null leaving a field alone, another non-string an error.
func exactTop(raw []byte) (eventTop, error) {
	var t eventTop
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return t, err
	}
	if m == nil {
		return t, errNotEventObject
	}
	for name, dst := range map[string]*string{"type": &t.Type, "application": &t.Application, "asterisk_id": &t.AsteriskID} {
		v, ok := m[name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return t, err
		}
	}
	return t, nil
}

func checkEventTop(t *testing.T, raw []byte) {
	var got eventTop
	want, werr := exactTop(raw)
	gerr := got.decode(raw, nil, "")
	if werr == nil && want == (eventTop{}) {
		return // dropped either way: no type (json null, {} ...)
	}
	if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
		t.Fatalf("%s: decode = %+v, %v; reference = %+v, %v", raw, got, gerr, want, werr)
	}
}

// TestEventTopDecode: eventTop.decode agrees with the reference decoder.
func TestEventTopDecode(t *testing.T) {
	for _, s := range eventTopSeeds {
		checkEventTop(t, []byte(s))
	}
	if data, err := os.ReadFile("../ari/testdata/events.jsonl"); err == nil {
		for _, line := range splitLines(data) {
			checkEventTop(t, line)
		}
	}
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := 0
		for i < len(data) && data[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, data[:i])
		}
		if i < len(data) {
			i++
		}
		data = data[i:]
	}
	return out
}

func FuzzEventTopDecode(f *testing.F) {
	for _, s := range eventTopSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkEventTop(t, raw) })
}
