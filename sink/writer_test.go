package sink

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/mapping"
)

type fakeDialect struct{ dollar bool }

func (d fakeDialect) Name() string { return "fake" }
func (d fakeDialect) Quote(s string) string {
	return `"` + s + `"`
}
func (d fakeDialect) Placeholder(n int) string {
	if d.dollar {
		return "$" + string(rune('0'+n))
	}
	return "?"
}
func (fakeDialect) JSONSet(col, path, param string) string {
	return "set(" + col + "," + path + "," + param + ")"
}
func (fakeDialect) Upsert(string, []string, int, []string, []string) string {
	return ""
}

func TestPlaceholdersSkipQuotedText(t *testing.T) {
	w := &Writer{d: fakeDialect{dollar: true}}
	got := w.placeholders(`SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)`)
	if want := `SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	w = &Writer{d: fakeDialect{}}
	if got := w.placeholders(`x = ?`); got != `x = ?` {
		t.Errorf("question marks stay for MySQL: %s", got)
	}
}

func TestJSONDocForInsert(t *testing.T) {
	p := place{spec: specWithJSON("en_US")}
	if got := jsonDoc(p, "Blue mug"); got != `{"en_US":"Blue mug"}` {
		t.Errorf("got %v", got)
	}
	p = place{spec: specWithJSON("a.b")}
	if got := jsonDoc(p, "x"); got != `{"a":{"b":"x"}}` {
		t.Errorf("nested: %v", got)
	}
	if got := jsonDoc(place{}, 5); got != 5 {
		t.Errorf("a plain column keeps its value: %v", got)
	}
}

func TestCanonicalAndDisplay(t *testing.T) {
	in := map[string]any{"n": int32(7), "rec": map[string]any{"m": int32(1)}, "list": []any{int32(2)}}
	out := canonical(in).(map[string]any)
	if out["n"] != int64(7) || out["rec"].(map[string]any)["m"] != int64(1) || out["list"].([]any)[0] != int64(2) {
		t.Errorf("canonical %v", out)
	}
	r, _ := new(big.Rat).SetString("19.99")
	ts := time.Date(2024, 2, 29, 1, 2, 3, 0, time.UTC)
	for v, want := range map[any]string{nil: "null", r: "19.99000000", ts: "2024-02-29T01:02:03Z", "x": "x"} {
		if got := display(v); got != want {
			t.Errorf("display(%v) = %q, want %q", v, got, want)
		}
	}
	if got := keyText(map[string]any{"sku": "A", "n": int64(2)}, []string{"sku", "n"}); got != "sku=A,n=2" {
		t.Errorf("keyText %q", got)
	}
}

func TestLastWriterWinsTie(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := &Event{Values: map[string]any{"updated_at": at}, Source: Source{System: "shop", CommitTime: at.Add(time.Hour)}}
	cur := &currentRow{updated: at}
	if !(&Writer{sys: "erp"}).targetNewer(ev, cur) {
		t.Error("a tie goes to the system whose name sorts first (erp)")
	}
	ev.Source.System = "alpha"
	if (&Writer{sys: "shop"}).targetNewer(ev, cur) {
		t.Error("a tie goes to the system whose name sorts first (alpha over shop)")
	}
	cur.updated = at.Add(time.Second)
	if !(&Writer{sys: "shop"}).targetNewer(ev, cur) {
		t.Error("the target changed later: it wins")
	}
	if (&Writer{sys: "shop"}).targetNewer(ev, &currentRow{}) {
		t.Error("an unknown target time: the event wins")
	}
	delete(ev.Values, "updated_at")
	if got := sourceTime(ev); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("without updated_at the commit time counts: %v", got)
	}
}

// TestKeepsTarget: last writer wins only for fields both systems change,
// and a row's updated_at never moves back, whatever the field's owner.
func TestKeepsTarget(t *testing.T) {
	at := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	w := &Writer{sys: "erp", cat: map[string]*mapping.EntityInfo{"order": {Key: []string{"number"}}}, cfg: &mapping.Config{Ownership: map[string]*mapping.Ownership{
		"order": {Owner: "shop", Fields: map[string]string{"status": "erp"}, Both: []string{"status"}},
	}}}
	ev := &Event{Entity: "order", Values: map[string]any{"number": "7", "status": "on_hold", "updated_at": at},
		Source: Source{System: "shop"}}
	newer := &currentRow{updated: at.Add(time.Second), vals: map[string]any{"status": "processing"}}
	older := &currentRow{updated: at.Add(-time.Second), vals: map[string]any{"status": "processing"}}

	keep, c := w.keepsTarget(ev, "status", newer)
	if !keep || c == nil {
		t.Fatalf("status (both), target newer: keep %t, conflict %v; want kept and logged", keep, c)
	}
	if c.Field != "status" || c.SourceValue != "on_hold" || c.TargetValue != "processing" || !strings.HasPrefix(c.Decision, "last writer wins: kept erp's") {
		t.Errorf("conflict %+v", c)
	}
	if keep, c := w.keepsTarget(ev, "status", older); keep || c != nil {
		t.Errorf("status (both), event newer: keep %t, conflict %v; want written", keep, c)
	}
	if keep, c := w.keepsTarget(ev, "updated_at", newer); !keep || c != nil {
		t.Errorf("updated_at, target newer: keep %t, conflict %v; want kept without a conflict", keep, c)
	}
	if keep, _ := w.keepsTarget(ev, "updated_at", older); keep {
		t.Error("updated_at, event newer: want written")
	}
	if keep, c := w.keepsTarget(ev, "note", newer); keep || c != nil {
		t.Errorf("note (the shop's alone), target newer: keep %t, conflict %v; want written", keep, c)
	}
	// an entity one system owns: its clock is written as it comes
	ev.Entity = "customer"
	w.cat["customer"] = &mapping.EntityInfo{Key: []string{"email"}}
	if keep, c := w.keepsTarget(ev, "updated_at", newer); keep || c != nil {
		t.Errorf("updated_at of an entity without both fields, target newer: keep %t, conflict %v; want written", keep, c)
	}
}

func specWithJSON(path string) (s mapping.FieldSpec) {
	s.JSON = path
	return s
}
