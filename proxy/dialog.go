package proxy

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// resKey names a resource the way v5 keys do: key kind and id.
type resKey struct {
	kind string // "channel", "bridge", "playback", "liverecording", ...
	id   string
}

// binding is one (resource, dialog) pair.
type binding struct {
	gen     uint64    // tells a later binding of the same pair from this one
	created time.Time // when it was made
	staged  bool      // made by a Stage kind only: the resource may never be created
	owner   bool      // made by the request that created the resource: the dialog owns it
	seen    atomic.Bool
}

// dialogTable maps resources to the dialogs they are bound to. Every
// binding has a way out (a destroy event, a failed call, DialogUnbind, the
// staged TTL or the sweep against Asterisk's lists), so it cannot grow
// without bound.
type dialogTable struct {
	mu       sync.RWMutex
	byRes    map[resKey]map[string]*binding
	byDialog map[string]map[resKey]struct{}
	gen      uint64
	peak     int // most resources bound at once since the maps were made
	n        atomic.Int64
	gauge    prometheus.Gauge
}

func newDialogTable(gauge prometheus.Gauge) *dialogTable {
	return &dialogTable{
		byRes:    make(map[resKey]map[string]*binding),
		byDialog: make(map[string]map[resKey]struct{}),
		gauge:    gauge,
	}
}

// len is the number of (resource, dialog) bindings.
func (t *dialogTable) len() int { return int(t.n.Load()) }

// empty is the hot-path check: most events meet an empty table.
func (t *dialogTable) empty() bool { return t.n.Load() == 0 }

func (t *dialogTable) setCount(delta int64) {
	n := t.n.Add(delta)
	if t.gauge != nil {
		t.gauge.Set(float64(n))
	}
}

// bind binds k to dialog. fresh reports whether the binding is new; gen
// identifies it for unbindGen. Binding again with staged false turns a
// staged binding into a normal one.
func (t *dialogTable) bind(k resKey, dialog string, staged bool, now time.Time) (fresh bool, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ds := t.byRes[k]
	if b, ok := ds[dialog]; ok {
		if !staged {
			b.staged = false
		}
		return false, b.gen
	}
	if ds == nil {
		ds = make(map[string]*binding, 1)
		t.byRes[k] = ds
		t.peak = max(t.peak, len(t.byRes))
	}
	t.gen++
	ds[dialog] = &binding{gen: t.gen, created: now, staged: staged}
	rs := t.byDialog[dialog]
	if rs == nil {
		rs = make(map[resKey]struct{}, 1)
		t.byDialog[dialog] = rs
	}
	rs[k] = struct{}{}
	t.setCount(1)
	return true, t.gen
}

// setOwner marks the binding of k to dialog as the owner's: the request
// that creates k carried dialog.
func (t *dialogTable) setOwner(k resKey, dialog string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.byRes[k][dialog]; ok {
		b.owner = true
	}
}

// owner is the dialog whose request created k, "" when none did.
func (t *dialogTable) owner(k resKey) string {
	if t.empty() {
		return ""
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for d, b := range t.byRes[k] {
		if b.owner {
			return d
		}
	}
	return "" // not the other half of a Local pair: entering Stasis by the dialplan, it is a new call
}

// markStaged makes the binding gen of k to dialog a staged one.
func (t *dialogTable) markStaged(k resKey, dialog string, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.byRes[k][dialog]; ok && b.gen == gen {
		b.staged = true
	}
}

// removeLocked deletes one binding; t.mu must be held.
func (t *dialogTable) removeLocked(k resKey, dialog string) {
	ds := t.byRes[k]
	if _, ok := ds[dialog]; !ok {
		return
	}
	delete(ds, dialog)
	if len(ds) == 0 {
		delete(t.byRes, k)
	}
	if rs := t.byDialog[dialog]; rs != nil {
		delete(rs, k)
		if len(rs) == 0 {
			delete(t.byDialog, dialog)
		}
	}
	t.setCount(-1)
	if len(t.byRes) == 0 && t.peak > shrinkAfter {
		// Go maps never shrink: after a burst of calls the empty maps
		// would keep their peak size for the life of the process.
		t.byRes = make(map[resKey]map[string]*binding)
		t.byDialog = make(map[string]map[resKey]struct{})
		t.peak = 0
	}
}

// shrinkAfter is the peak size above which the table's maps are made
// anew when they empty; below it they are kept, to save the allocations.
const shrinkAfter = 256

// unbind removes the binding of k to dialog.
func (t *dialogTable) unbind(k resKey, dialog string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(k, dialog)
}

// unbindGen removes the binding of k to dialog only if it is still the one
// bind returned gen for (a rollback must not remove a newer binding).
func (t *dialogTable) unbindGen(k resKey, dialog string, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.byRes[k][dialog]; ok && b.gen == gen {
		t.removeLocked(k, dialog)
	}
}

// release removes every binding of k (the resource is gone).
func (t *dialogTable) release(k resKey) {
	if t.empty() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for d := range t.byRes[k] {
		t.removeLocked(k, d)
	}
}

// releaseGen removes every binding of k made at or before gen: a delayed
// release must spare bindings made after it was decided.
func (t *dialogTable) releaseGen(k resKey, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for d, b := range t.byRes[k] {
		if b.gen <= gen {
			t.removeLocked(k, d)
		}
	}
}

// currentGen is the generation of the latest binding made.
func (t *dialogTable) currentGen() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.gen
}

// unbindDialog removes every binding of dialog.
func (t *dialogTable) unbindDialog(dialog string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.byDialog[dialog] {
		t.removeLocked(k, dialog)
	}
}

// clear removes every binding (the Asterisk behind them is gone).
func (t *dialogTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ds := range t.byRes {
		n += len(ds)
	}
	t.byRes = make(map[resKey]map[string]*binding)
	t.byDialog = make(map[string]map[resKey]struct{})
	t.peak = 0
	t.setCount(-int64(n))
}

// lookup returns the distinct dialogs bound to any of keys, in a stable
// order. Events of a Local channel half ("x;1", "x;2") also go to the
// dialogs of "x": both halves are one call for the application.
func (t *dialogTable) lookup(keys []resKey) []string {
	if t.empty() || len(keys) == 0 {
		return nil
	}
	var out []string
	t.mu.RLock()
	defer t.mu.RUnlock()
	add := func(k resKey) {
		for d, b := range t.byRes[k] {
			b.seen.Store(true)
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	for _, k := range keys {
		add(k)
		if k.kind == kindChannel {
			if base, ok := localBase(k.id); ok {
				add(resKey{kindChannel, base})
			}
		}
	}
	slices.Sort(out)
	return out
}

// sweepStaged removes staged bindings that never saw an event and are
// older than cutoff: the staged operation was never executed.
func (t *dialogTable) sweepStaged(cutoff time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, ds := range t.byRes {
		for d, b := range ds {
			if b.staged && !b.seen.Load() && b.created.Before(cutoff) {
				t.removeLocked(k, d)
				n++
			}
		}
	}
	return n
}

// releaseMissing removes bindings of kind whose id is not in present and
// that were made before cutoff (so a resource bound just before it is
// created is never taken for a missing one). Staged bindings have their
// own expiry (sweepStaged).
func (t *dialogTable) releaseMissing(kind string, present map[string]bool, cutoff time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, ds := range t.byRes {
		if k.kind != kind || present[k.id] {
			continue
		}
		for d, b := range ds {
			if !b.staged && b.created.Before(cutoff) {
				t.removeLocked(k, d)
				n++
			}
		}
	}
	return n
}
