package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// handleSpec describes a handle type: an entity named by a key, whose
// operations are the ARI operations addressed by the key's parameters.
// Every field is derived from the entity's row in wire's table and from
// the operations and kinds that address it (handlesOf).
type handleSpec struct {
	Name       string   // ChannelHandle is Name+"Handle"; the Client constructor is Name: the entity's Model, else its kind
	Kind       string   // key kind on the wire
	Params     []string // ARI parameters the key id stands for, joined with "/": the entity's KeyParam
	Args       []string // constructor argument names, one per param: "id" or "name" for one, the parameters for several
	PathPrefix string   // operations must have a path starting with it: the paths of the kinds keyed by Params
	Query      bool     // the key parameter is a query parameter (asterisk variables)
	Subscribe  string   // v5 kind binding one entity to a dialog without an ARI call ("" none): the handle's event Subscribe
	Noun       string   // for doc comments: the entity's Noun
}

// handles are the entities of wire's table that operations address by a
// key (those with a KeyParam), one handle each: adding an entity row is
// all a new handle takes.
var handles = mustHandles(handlesOf(wire.Entities(), ari.Operations[:], wire.Kinds()))

func mustHandles(hs []*handleSpec, err error) []*handleSpec {
	if err != nil {
		panic("clientgen: " + err.Error())
	}
	return hs
}

// handlesOf derives the handles from the entity table: the path prefix
// (or query parameter) by which operations address each entity comes
// from the operations whose wire kind keys that entity by its KeyParam.
func handlesOf(es []*wire.Entity, ops []ari.Operation, kinds []*wire.Kind) ([]*handleSpec, error) {
	var hs []*handleSpec
	for _, e := range es {
		if e.KeyParam == "" {
			continue
		}
		h := &handleSpec{Name: e.Model, Kind: e.Kind, Params: strings.Split(e.KeyParam, "/"), Noun: e.Noun}
		if h.Name == "" {
			h.Name = exported(e.Kind)
		}
		switch {
		case len(h.Params) > 1:
			h.Args = h.Params
		case e.IDField == "id":
			h.Args = []string{"id"}
		default:
			h.Args = []string{"name"}
		}
		if h.Noun == "" {
			return nil, fmt.Errorf("entity %s: no Noun for the %sHandle's docs", e.Kind, h.Name)
		}
		var query string
		for i := range ops {
			op := &ops[i]
			k := wire.KindOf(op.Ident)
			if op.WebSocket || k == nil || k.KeyKind != e.Kind || k.KeyParam != e.KeyParam {
				continue
			}
			p := op.Param(h.Params[0])
			switch {
			case p == nil:
			case p.In == ari.InPath:
				prefix, _, ok := strings.Cut(op.Path, "{"+p.Name+"}")
				if !ok {
					return nil, fmt.Errorf("%s: path %s lacks {%s}", op.ID, op.Path, p.Name)
				}
				if h.PathPrefix != "" && h.PathPrefix != prefix {
					return nil, fmt.Errorf("entity %s: addressed under %s and %s", e.Kind, h.PathPrefix, prefix)
				}
				h.PathPrefix = prefix
			case p.Required && (query == "" || query == op.Path):
				query = op.Path
			case p.Required:
				return nil, fmt.Errorf("entity %s: addressed by query on %s and %s", e.Kind, query, op.Path)
			}
		}
		if h.PathPrefix == "" {
			h.PathPrefix, h.Query = query, true
		}
		if h.PathPrefix == "" {
			return nil, fmt.Errorf("entity %s: no operation addresses it by %s", e.Kind, e.KeyParam)
		}
		for _, k := range kinds {
			if k.Op == nil && !k.Unbind && k.KeyKind == e.Kind && strings.HasSuffix(k.Name, "Subscribe") {
				h.Subscribe = k.Name
			}
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// collSpec is a collection type: the operations of one ARI resource that
// no handle takes (lists, creates, system calls).
type collSpec struct {
	Name     string // type name and Client method name
	Resource string
}

// The naming rule: a method is named after its ARI operation's nickname,
// Go-cased (channels.startMoh is ChannelHandle.StartMOH, recordings.unpause
// is LiveRecordingHandle.Unpause), whatever v5 called the kind it sends on
// the wire. methodNames lists the only exceptions: a nickname Go-casing
// cannot split, and applications.(un)subscribe, whose ARI name would clash
// in meaning with the event Subscribe of every other handle.
var methodNames = map[string]string{
	"channels.rtpstatistics":   "RTPStatistics",
	"applications.subscribe":   "SubscribeEventSource",
	"applications.unsubscribe": "UnsubscribeEventSource",
}

// initialisms are written in upper case in Go names.
var initialisms = map[string]bool{"id": true, "dtmf": true, "moh": true, "uri": true, "url": true, "rtp": true, "json": true, "ip": true}

type field struct {
	Name   string
	GoType string
	Param  ari.Param
}

type method struct {
	Op     *ari.Operation
	Kind   *wire.Kind
	Handle *handleSpec // nil for collections
	Coll   *collSpec   // nil for handles
	Name   string
	Fields []field
	Params string // parameter struct name, "" when the operation has none left
	Ret    string // Go result type, "" for error only
	Zero   string // zero value of Ret
	Body   []string
}

func (m *method) recvType() string {
	if m.Handle != nil {
		return m.Handle.Name + "Handle"
	}
	return m.Coll.Name
}

func (m *method) recv() string {
	if m.Handle != nil {
		return "h"
	}
	return "s"
}

type api struct {
	handles []*handleSpec
	colls   []*collSpec
	methods []*method
	subs    map[string]string // handle name -> v5 subscribe kind
	models  map[string]bool
}

// modelNames lists the exported type names declared in package ari.
func modelNames(dir string) (map[string]bool, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		af, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				if ts := s.(*ast.TypeSpec); ts.Name.IsExported() {
					names[ts.Name.Name] = true
				}
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no types in %s", dir)
	}
	return names, nil
}

// handleFor finds the handle of op: the one whose key parameters are the
// first path parameters of op.
func handleFor(op *ari.Operation) *handleSpec {
	var path []string
	for _, p := range op.Params {
		if p.In == ari.InPath {
			path = append(path, p.Name)
		}
	}
	for _, h := range handles {
		if !strings.HasPrefix(op.Path+"/", h.PathPrefix) && op.Path != strings.TrimSuffix(h.PathPrefix, "/") {
			continue
		}
		if h.Query {
			if p := op.Param(h.Params[0]); p != nil && p.Required {
				return h
			}
			continue
		}
		if len(path) >= len(h.Params) && slices.Equal(path[:len(h.Params)], h.Params) {
			return h
		}
	}
	return nil
}

func build(models map[string]bool) (*api, error) {
	a := &api{handles: handles, models: models, subs: make(map[string]string)}
	colls := map[string]*collSpec{}
	names := map[string]map[string]string{} // receiver -> method name -> op
	for _, h := range handles {
		// A v5 kind that subscribes one resource to a dialog, with no ARI
		// call, gives the handle an event Subscribe.
		if h.Subscribe != "" {
			a.subs[h.Name] = h.Subscribe
			names[h.Name+"Handle"] = map[string]string{"Subscribe": "(events)"}
		}
	}
	reserved := map[string]bool{"Key": true, "ID": true}
	for i := range ari.Operations {
		op := &ari.Operations[i]
		if op.WebSocket {
			continue
		}
		k := wire.KindOf(op.Ident)
		if k == nil {
			return nil, fmt.Errorf("%s: no wire kind", op.ID)
		}
		m := &method{Op: op, Kind: k}
		m.Handle = handleFor(op)
		if m.Handle != nil {
			if want := strings.Join(m.Handle.Params, "/"); k.KeyParam != want || k.KeyKind != m.Handle.Kind {
				return nil, fmt.Errorf("%s: kind %s keys %s by %q, the %sHandle by %q", op.ID, k.Name, k.KeyKind, k.KeyParam, m.Handle.Name, want)
			}
		} else {
			cs := colls[op.Resource]
			if cs == nil {
				cs = &collSpec{Name: exported(op.Resource), Resource: op.Resource}
				colls[op.Resource] = cs
				a.colls = append(a.colls, cs)
			}
			m.Coll = cs
		}
		recv := m.recvType()
		if names[recv] == nil {
			names[recv] = map[string]string{}
		}
		name := exported(op.Nickname)
		if n, ok := methodNames[op.ID]; ok {
			name = n
		}
		if prev := names[recv][name]; prev != "" || reserved[name] {
			return nil, fmt.Errorf("%s: method %s.%s already taken by %s", op.ID, recv, name, prev)
		}
		names[recv][name] = op.ID
		m.Name = name

		keyParams := map[string]bool{}
		if m.Handle != nil {
			for _, p := range m.Handle.Params {
				keyParams[p] = true
			}
		}
		for _, p := range op.Params {
			if keyParams[p.Name] {
				continue
			}
			m.Fields = append(m.Fields, field{Name: exported(p.Name), GoType: goType(p), Param: p})
		}
		if len(m.Fields) > 0 {
			m.Params = strings.TrimSuffix(recv, "Handle") + name + "Params"
		}
		if err := a.result(m); err != nil {
			return nil, fmt.Errorf("%s: %w", op.ID, err)
		}
		a.methods = append(a.methods, m)
	}
	return a, nil
}

func (a *api) handleOfKind(kind string) *handleSpec {
	for _, h := range a.handles {
		if h.Kind == kind {
			return h
		}
	}
	return nil
}

// model is the Go type of spec model class ("Channel" -> "ari.Channel").
func (a *api) model(class string) (string, error) {
	if !a.models[class] {
		return "", fmt.Errorf("no Go type ari.%s for model %s", class, class)
	}
	return "ari." + class, nil
}

// result sets the return type and the code that makes it from resp.
func (a *api) result(m *method) error {
	r := m.Kind.Result
	c := m.recv() + ".c"
	base := m.recv() + ".key"
	if m.Handle == nil {
		base = c + ".fillKey(Key{})"
	}
	class := m.Op.ResponseClass
	elem, isList := strings.CutPrefix(class, "List[")
	elem = strings.TrimSuffix(elem, "]")
	switch r.Shape {
	case wire.ShapeNone:
		return nil
	case wire.ShapeVariable:
		m.Ret, m.Zero = "string", `""`
		m.Body = []string{"return variable(resp)"}
	case wire.ShapeKey:
		h := a.handleOfKind(r.Kind)
		if h == nil {
			m.Ret, m.Zero = "Key", "Key{}"
			m.Body = []string{fmt.Sprintf("return resultKey(resp, %q, %s)", r.Kind, base)}
			return nil
		}
		m.Ret, m.Zero = "*"+h.Name+"Handle", "nil"
		m.Body = []string{
			fmt.Sprintf("k, err := resultKey(resp, %q, %s)", r.Kind, base),
			"if err != nil {", "return nil, err", "}",
			fmt.Sprintf("return %s.%sFromKey(k), nil", c, h.Name),
		}
	case wire.ShapeKeys:
		h := a.handleOfKind(r.Kind)
		if h == nil {
			m.Ret, m.Zero = "[]Key", "nil"
			m.Body = []string{fmt.Sprintf("return resultKeys(resp, %q, %s), nil", r.Kind, base)}
			return nil
		}
		m.Ret, m.Zero = "[]*"+h.Name+"Handle", "nil"
		m.Body = []string{
			fmt.Sprintf("keys := resultKeys(resp, %q, %s)", r.Kind, base),
			fmt.Sprintf("out := make([]*%sHandle, len(keys))", h.Name),
			"for i, k := range keys {",
			fmt.Sprintf("out[i] = %s.%sFromKey(k)", c, h.Name),
			"}",
			"return out, nil",
		}
	case wire.ShapeData:
		if r.DataField == "" {
			return fmt.Errorf("kind %s: data shape without data field", m.Kind.Name)
		}
		if h := a.handleOfKind(r.Kind); h != nil && h.Name == elem && !isList && m.Op.Method == "POST" {
			// A create answering the entity (PlayWithID, CreateWithID...)
			// returns a handle, as the creates answering a key do.
			m.Ret, m.Zero = "*"+h.Name+"Handle", "nil"
			m.Body = []string{
				fmt.Sprintf("k, err := createdKey(resp, %q, %q, %s)", r.Kind, r.DataField, base),
				"if err != nil {", "return nil, err", "}",
				fmt.Sprintf("return %s.%sFromKey(k), nil", c, h.Name),
			}
			return nil
		}
		switch {
		case r.Binary:
			m.Ret, m.Zero = "[]byte", "nil"
			m.Body = []string{fmt.Sprintf("return entity[[]byte](resp, %q)", r.DataField)}
		case r.Wrap != "":
			t, err := a.model(elem)
			if err != nil {
				return err
			}
			m.Ret, m.Zero = "[]"+t, "nil"
			m.Body = []string{fmt.Sprintf("return wrapped[[]%s](resp, %q, %q)", t, r.DataField, r.Wrap)}
		case isList && !r.Select:
			t, err := a.model(elem)
			if err != nil {
				return err
			}
			m.Ret, m.Zero = "[]"+t, "nil"
			m.Body = []string{fmt.Sprintf("return entity[[]%s](resp, %q)", t, r.DataField)}
		default:
			t, err := a.model(elem)
			if err != nil {
				return err
			}
			m.Ret, m.Zero = "*"+t, "nil"
			m.Body = []string{fmt.Sprintf("return entityPtr[%s](resp, %q)", t, r.DataField)}
		}
	default:
		return fmt.Errorf("kind %s: unknown shape %v", m.Kind.Name, r.Shape)
	}
	return nil
}

// goType is the Go type of a parameter.
func goType(p ari.Param) string {
	t := p.Type
	switch {
	case t == "containers" && p.Name == "fields":
		return "[]ari.ConfigTuple" // asterisk.updateObject: a list of ConfigTuples
	case t == "containers":
		return "map[string]string"
	case t == "object":
		return "map[string]any"
	case strings.HasPrefix(t, "List["):
		return "[]" + scalar(strings.TrimSuffix(strings.TrimPrefix(t, "List["), "]"))
	case p.AllowMultiple:
		return "[]" + scalar(t)
	}
	return scalar(t)
}

func scalar(t string) string {
	switch t {
	case "string":
		return "string"
	case "int", "long":
		return "int"
	case "double":
		return "float64"
	case "boolean":
		return "bool"
	}
	return "any"
}

// exported turns a spec name ("channelId", "reason_code", "sendDTMF")
// into an exported Go name ("ChannelID", "ReasonCode", "SendDTMF").
func exported(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		lw := strings.ToLower(w)
		if initialisms[lw] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// words splits a camelCase or snake_case name into words; a run of upper
// case letters is one word ("sendDTMF" -> send, DTMF).
func words(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		r := []rune(part)
		start := 0
		for i := 1; i < len(r); i++ {
			lowerToUpper := unicode.IsLower(r[i-1]) && unicode.IsUpper(r[i])
			digitBoundary := unicode.IsDigit(r[i-1]) != unicode.IsDigit(r[i])
			acronymEnd := i+1 < len(r) && unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i]) && unicode.IsLower(r[i+1])
			if lowerToUpper || digitBoundary || acronymEnd {
				out = append(out, string(r[start:i]))
				start = i
			}
		}
		out = append(out, string(r[start:]))
	}
	return out
}

// doc writes text as a comment wrapped at about 76 columns.
func doc(b *bytes.Buffer, indent, text string) {
	line := indent + "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != indent+"//" {
			b.WriteString(line + "\n")
			line = indent + "//"
		}
		line += " " + w
	}
	if line != indent+"//" {
		b.WriteString(line + "\n")
	}
}

func lowerFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func (a *api) render() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/clientgen from ari.Operations and the wire kind table. DO NOT EDIT.\n\n")
	b.WriteString("package client\n\nimport (\n\t\"context\"\n\n\t\"github.com/ariproxy/ari-proxy/ari\"\n)\n\n")
	b.WriteString("var _ = ari.Params(nil)\n\n")

	for _, h := range a.handles {
		a.renderHandle(&b, h)
	}
	for _, cs := range a.colls {
		fmt.Fprintf(&b, "// %s holds the ARI %s operations that no handle takes (lists,\n// creates and the like).\ntype %s struct{ c *Client }\n\n", cs.Name, cs.Resource, cs.Name)
		fmt.Fprintf(&b, "// %s returns the %s operations that no handle takes.\nfunc (c *Client) %s() *%s { return &%s{c: c} }\n\n", cs.Name, cs.Resource, cs.Name, cs.Name, cs.Name)
	}
	for _, m := range a.methods {
		a.renderParams(&b, m)
		a.renderMethod(&b, m)
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return b.Bytes(), fmt.Errorf("format: %w", err)
	}
	return src, nil
}

func (a *api) renderHandle(b *bytes.Buffer, h *handleSpec) {
	t := h.Name + "Handle"
	doc(b, "", fmt.Sprintf("%s is a %s on the bus, named by its key (kind %q; the id is %s). Its methods send requests to the server that has it: the one of the key's node, or, with a partial key (no node), every server of the application, taking the answer of the one that has it.", t, h.Noun, h.Kind, strings.Join(h.Params, `"/"`)))
	fmt.Fprintf(b, "type %s struct {\n\tc   *Client\n\tkey Key\n}\n\n", t)
	args := strings.Join(h.Args, ", ") + " string"
	id := h.Args[0]
	if len(h.Args) > 1 {
		id = "joinKey(" + strings.Join(h.Args, ", ") + ")"
	}
	doc(b, "", fmt.Sprintf("%s returns a handle on the %s %s, with the client's application, node (WithNode) and dialog. It sends nothing.", h.Name, h.Noun, strings.Join(h.Args, ", ")))
	fmt.Fprintf(b, "func (c *Client) %s(%s) *%s {\n\treturn &%s{c: c, key: c.fillKey(Key{Kind: %q, ID: %s})}\n}\n\n", h.Name, args, t, t, h.Kind, id)
	doc(b, "", fmt.Sprintf("%sFromKey returns a handle on the %s that key names (a key from an event, a reply or another process).", h.Name, h.Noun))
	fmt.Fprintf(b, "func (c *Client) %sFromKey(key Key) *%s {\n\tif key.Kind == \"\" {\n\t\tkey.Kind = %q\n\t}\n\treturn &%s{c: c, key: key}\n}\n\n", h.Name, t, h.Kind, t)
	fmt.Fprintf(b, "// Key returns the handle's key.\nfunc (h *%s) Key() Key { return h.key }\n\n", t)
	fmt.Fprintf(b, "// ID returns the id of the %s.\nfunc (h *%s) ID() string { return h.key.ID }\n\n", h.Noun, t)
	if k, ok := a.subs[h.Name]; ok {
		doc(b, "", fmt.Sprintf("Subscribe delivers the events of this %s only, of the given types (ari.TypeChannelStateChange...) when types are given; a type the spec does not define is an error. It binds the %s to a fresh dialog on the servers (request kind %s) and listens on that dialog's subject, so it does not receive the application's other events. Close unbinds the dialog.", h.Noun, h.Noun, k))
		fmt.Fprintf(b, "func (h *%s) Subscribe(ctx context.Context, types ...string) (*Subscription, error) {\n\treturn h.c.subscribeResource(ctx, %q, h.key, types)\n}\n\n", t, k)
	}
}

func (a *api) renderParams(b *bytes.Buffer, m *method) {
	if m.Params == "" {
		return
	}
	doc(b, "", fmt.Sprintf("%s are the parameters of (*%s).%s. Zero values are not sent (ARI's defaults apply), except for required parameters; Extra sets any ARI parameter by its spec name and wins over the fields.", m.Params, m.recvType(), m.Name))
	fmt.Fprintf(b, "type %s struct {\n", m.Params)
	for _, f := range m.Fields {
		text := sentence(f.Param.Description)
		if f.Param.Required {
			text += " Required."
		}
		if len(f.Param.Allowed) > 0 {
			text += " One of: " + strings.Join(f.Param.Allowed, ", ") + "."
		}
		if f.Param.Default != "" {
			text += " ARI default: " + f.Param.Default + "."
		}
		text += fmt.Sprintf(" (ARI %s %s)", f.Param.In, f.Param.Name)
		doc(b, "\t", text)
		fmt.Fprintf(b, "\t%s %s\n", f.Name, f.GoType)
	}
	b.WriteString("\t// Extra holds ARI parameters by spec name, sent as given.\n\tExtra ari.Params\n}\n\n")
	fmt.Fprintf(b, "func (p *%s) params() ari.Params {\n\tif p == nil {\n\t\treturn nil\n\t}\n\tm := ari.Params{}\n", m.Params)
	for _, f := range m.Fields {
		val := "p." + f.Name
		if f.GoType == "[]ari.ConfigTuple" {
			val = "configTuples(p." + f.Name + ")"
		}
		var cond string
		switch {
		case f.GoType == "string":
			cond = "p." + f.Name + ` != ""`
		case f.Param.Required:
			cond = ""
		case f.GoType == "int" || f.GoType == "float64":
			cond = "p." + f.Name + " != 0"
		case f.GoType == "bool":
			cond = "p." + f.Name
		case f.GoType == "any":
			cond = "p." + f.Name + " != nil"
		default:
			cond = "len(p." + f.Name + ") > 0"
		}
		if cond == "" {
			fmt.Fprintf(b, "\tm[%q] = %s\n", f.Param.Name, val)
		} else {
			fmt.Fprintf(b, "\tif %s {\n\t\tm[%q] = %s\n\t}\n", cond, f.Param.Name, val)
		}
	}
	b.WriteString("\tfor k, v := range p.Extra {\n\t\tm[k] = v\n\t}\n\treturn m\n}\n\n")
}

func (a *api) renderMethod(b *bytes.Buffer, m *method) {
	op := m.Op
	summary := sentence(op.Summary)
	if summary == "" {
		summary = "Calls " + op.ID + "."
	}
	doc(b, "", fmt.Sprintf("%s calls %s: %s", m.Name, op.ID, lowerFirst(summary)))
	b.WriteString("//\n")
	doc(b, "", fmt.Sprintf("ARI %s %s (%s), bus kind %s (class %s).", op.Method, op.Path, op.ID, m.Kind.Name, m.Kind.Class))
	if len(op.Errors) > 0 {
		var errs []string
		for _, e := range op.Errors {
			errs = append(errs, fmt.Sprintf("%d %s", e.Code, strings.TrimRight(e.Reason, ". ")))
		}
		doc(b, "", "ARI errors: "+strings.Join(errs, "; ")+".")
	}
	sig := "ctx context.Context"
	arg := "nil"
	if m.Params != "" {
		sig += ", p *" + m.Params
		arg = "p.params()"
	}
	key := m.recv() + ".key"
	if m.Handle == nil {
		key = "Key{}"
	}
	ret := "error"
	if m.Ret != "" {
		ret = "(" + m.Ret + ", error)"
	}
	fmt.Fprintf(b, "func (%s *%s) %s(%s) %s {\n", m.recv(), m.recvType(), m.Name, sig, ret)
	if m.Ret == "" {
		fmt.Fprintf(b, "\t_, err := %s.c.call(ctx, %#v, %s, %s)\n\treturn err\n}\n\n", m.recv(), op.Ident, key, arg)
		return
	}
	fmt.Fprintf(b, "\tresp, err := %s.c.call(ctx, %#v, %s, %s)\n\tif err != nil {\n\t\treturn %s, err\n\t}\n", m.recv(), op.Ident, key, arg, m.Zero)
	for _, l := range m.Body {
		b.WriteString("\t" + l + "\n")
	}
	b.WriteString("}\n\n")
}

// renderTest writes the table that calls every generated method from an
// operation ID, a key and ARI parameters: the test that every operation
// works through the typed API ranges over it.
func (a *api) renderTest() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/clientgen from ari.Operations and the wire kind table. DO NOT EDIT.\n\n")
	b.WriteString("package client\n\nimport (\n\t\"context\"\n\n\t\"github.com/ariproxy/ari-proxy/ari\"\n)\n\n")
	b.WriteString("// typedCalls calls the typed method of each operation: key names the\n// receiver (ignored for collections), p holds the ARI parameters by spec name.\n")
	b.WriteString("var typedCalls = map[string]func(ctx context.Context, c *Client, key Key, p ari.Params) (any, error){\n")
	for _, m := range a.methods {
		fmt.Fprintf(&b, "\t%q: func(ctx context.Context, c *Client, key Key, p ari.Params) (any, error) {\n", m.Op.ID)
		recv := "c." + m.Coll.nameOrEmpty() + "()"
		if m.Handle != nil {
			recv = "c." + m.Handle.Name + "FromKey(key)"
		}
		args := "ctx"
		if m.Params != "" {
			fmt.Fprintf(&b, "\t\ta := &%s{}\n", m.Params)
			for _, f := range m.Fields {
				fmt.Fprintf(&b, "\t\tsetParam(&a.%s, p, %q)\n", f.Name, f.Param.Name)
			}
			args += ", a"
		}
		if m.Ret == "" {
			fmt.Fprintf(&b, "\t\treturn nil, %s.%s(%s)\n\t},\n", recv, m.Name, args)
		} else {
			fmt.Fprintf(&b, "\t\treturn %s.%s(%s)\n\t},\n", recv, m.Name, args)
		}
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return b.Bytes(), fmt.Errorf("format test: %w", err)
	}
	return src, nil
}

func (cs *collSpec) nameOrEmpty() string {
	if cs == nil {
		return ""
	}
	return cs.Name
}
