package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// handle is a handle class: the entities of one key kind. Which
// operations a handle takes comes from the generic kinds of the wire
// table: the key kind of an operation's generic kind (named after its
// first path parameters) is the handle it belongs to.
type handle struct {
	Kind      string   // key kind on the wire
	Class     string   // TypeScript class is Class+"Handle"
	Params    []string // ARI parameters the key id stands for
	Subscribe string   // v5 kind binding one resource to a dialog, "" when none
	Methods   []*tsMethod
}

// collection holds the operations of an ARI resource that address no
// entity (lists, creates, system calls).
type collection struct {
	Resource string
	Class    string
	Methods  []*tsMethod
}

type tsField struct {
	Param ari.Param
	TS    string
}

type tsMethod struct {
	Op       *ari.Operation
	Kind     *wire.Kind
	Name     string
	Params   string // interface name
	Fields   []tsField
	Required bool // params argument required
	Ret      string
	Body     []string
}

type api struct {
	models  map[string]*model
	handles []*handle
	colls   []*collection
	methods []*tsMethod
	recv    map[*tsMethod]string // method -> receiver class
}

// className is the name of the handle class of a key kind: the model of
// the operations that answer that entity ("logging" -> LogChannel), or the
// key kind itself.
func className(kind string) string {
	for _, k := range wire.Kinds() {
		op := k.Operation()
		if !k.Generic || op == nil || k.Result.Kind != kind {
			continue
		}
		rc := strings.TrimSuffix(strings.TrimPrefix(op.ResponseClass, "List["), "]")
		if rc != "" && rc != "void" {
			return rc
		}
	}
	return upperFirst(kind)
}

func build(models map[string]*model) (*api, error) {
	a := &api{models: models, recv: map[*tsMethod]string{}}
	handles := map[string]*handle{}
	colls := map[string]*collection{}
	names := map[string]map[string]string{}
	reserved := map[string]bool{"key": true, "id": true, "caller": true, "constructor": true}
	// Key kinds with a v5 kind binding one resource to a dialog, with no
	// ARI call: their handles have an event subscription.
	subscribeKinds := map[string]string{}
	for _, k := range wire.Kinds() {
		if k.Operation() == nil && strings.HasSuffix(k.Name, "Subscribe") && subscribeKinds[k.KeyKind] == "" {
			subscribeKinds[k.KeyKind] = k.Name
		}
	}

	for i := range ari.Operations {
		op := &ari.Operations[i]
		if op.WebSocket {
			continue
		}
		gk, ok := wire.LookupKind(op.ID)
		if !ok || !gk.Generic {
			return nil, fmt.Errorf("%s: no generic kind", op.ID)
		}
		k := wire.KindForOp(op.ID)
		if k == nil {
			return nil, fmt.Errorf("%s: no wire kind", op.ID)
		}
		m := &tsMethod{Op: op, Kind: k, Name: op.Nickname}
		var recv string
		keyParams := map[string]bool{}
		if gk.KeyKind != "" {
			h := handles[gk.KeyKind]
			if h == nil {
				h = &handle{Kind: gk.KeyKind, Class: className(gk.KeyKind), Params: strings.Split(gk.KeyParam, "/"), Subscribe: subscribeKinds[gk.KeyKind]}
				handles[gk.KeyKind] = h
				a.handles = append(a.handles, h)
			}
			for _, p := range h.Params {
				keyParams[p] = true
			}
			h.Methods = append(h.Methods, m)
			recv = h.Class + "Handle"
		} else {
			c := colls[op.Resource]
			if c == nil {
				c = &collection{Resource: op.Resource, Class: upperFirst(op.Resource)}
				colls[op.Resource] = c
				a.colls = append(a.colls, c)
			}
			c.Methods = append(c.Methods, m)
			recv = c.Class
		}
		if names[recv] == nil {
			names[recv] = map[string]string{}
		}
		if gk.KeyKind != "" && subscribeKinds[gk.KeyKind] != "" && m.Name == "subscribe" {
			return nil, fmt.Errorf("%s: method %s.subscribe is the event subscription", op.ID, recv)
		}
		if prev := names[recv][m.Name]; prev != "" || reserved[m.Name] {
			return nil, fmt.Errorf("%s: method %s.%s already taken by %s", op.ID, recv, m.Name, prev)
		}
		names[recv][m.Name] = op.ID
		a.recv[m] = recv

		for _, p := range op.Params {
			if keyParams[p.Name] {
				continue
			}
			m.Fields = append(m.Fields, tsField{Param: p, TS: paramType(op, p)})
			if p.Required {
				m.Required = true
			}
		}
		m.Params = strings.TrimSuffix(recv, "Handle") + upperFirst(m.Name) + "Params"
		if err := a.result(m, gk.KeyKind != ""); err != nil {
			return nil, fmt.Errorf("%s: %w", op.ID, err)
		}
		a.methods = append(a.methods, m)
	}
	return a, nil
}

// paramType is the TypeScript type of an ARI parameter.
func paramType(op *ari.Operation, p ari.Param) string {
	t := p.Type
	switch {
	case secondsParam(op, p):
		return "Seconds"
	case t == "containers" && p.Name == "fields":
		return "M.ConfigTuple[]"
	case t == "containers":
		return "Record<string, string>"
	case t == "object":
		return "Record<string, unknown>"
	case strings.HasPrefix(t, "List["):
		return scalar(strings.TrimSuffix(strings.TrimPrefix(t, "List["), "]")) + "[]"
	case p.AllowMultiple:
		return scalar(t) + " | " + scalar(t) + "[]"
	}
	if len(p.Allowed) > 0 && t == "string" {
		var alts []string
		for _, v := range p.Allowed {
			alts = append(alts, fmt.Sprintf("%q", v))
		}
		return strings.Join(alts, " | ")
	}
	return scalar(t)
}

func scalar(t string) string {
	switch t {
	case "string":
		return "string"
	case "int", "long", "double":
		return "number"
	case "boolean":
		return "boolean"
	}
	return "unknown"
}

func (a *api) modelType(class string) (string, error) {
	if _, ok := a.models[class]; !ok {
		return "", fmt.Errorf("no model %s", class)
	}
	return "M." + class, nil
}

func (a *api) handleClass(kind string) string {
	for _, h := range a.handles {
		if h.Kind == kind {
			return h.Class + "Handle"
		}
	}
	return ""
}

// result sets the return type and the body that makes it from the reply,
// after the shape of the kind sent (as the Go client).
func (a *api) result(m *tsMethod, onHandle bool) error {
	r := m.Kind.Result
	base := "this.key"
	if !onHandle {
		base = "this.caller.fillKey({})"
	}
	class := m.Op.ResponseClass
	elem, isList := strings.CutPrefix(class, "List[")
	elem = strings.TrimSuffix(elem, "]")
	switch r.Shape {
	case wire.ShapeNone:
		m.Ret = "void"
	case wire.ShapeVariable:
		m.Ret = "string"
		m.Body = []string{"return variable(resp);"}
	case wire.ShapeKey:
		m.Ret = "Key"
		m.Body = []string{fmt.Sprintf("return resultKey(resp, %q, %s);", r.Kind, base)}
		// Handles are resolved lazily at render time (all handles known).
	case wire.ShapeKeys:
		m.Ret = "Key[]"
		m.Body = []string{fmt.Sprintf("return resultKeys(resp, %q, %s);", r.Kind, base)}
	case wire.ShapeData:
		switch {
		case r.Binary:
			m.Ret = "Buffer"
			m.Body = []string{fmt.Sprintf("return binary(resp, %q);", r.DataField)}
		case r.Wrap != "":
			t, err := a.modelType(elem)
			if err != nil {
				return err
			}
			m.Ret = t + "[]"
			m.Body = []string{fmt.Sprintf("return wrapped<%s[]>(resp, %q, %q);", t, r.DataField, r.Wrap)}
		case isList && !r.Select:
			t, err := a.modelType(elem)
			if err != nil {
				return err
			}
			m.Ret = t + "[]"
			m.Body = []string{fmt.Sprintf("return entity<%s[]>(resp, %q);", t, r.DataField)}
		default:
			t, err := a.modelType(elem)
			if err != nil {
				return err
			}
			if r.Kind != "" && !r.Exact {
				t = "WithKey<" + t + ">"
			}
			m.Ret = t
			m.Body = []string{fmt.Sprintf("return entity<%s>(resp, %q);", t, r.DataField)}
		}
	default:
		return fmt.Errorf("unknown shape %v", r.Shape)
	}
	return nil
}

func (a *api) render() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString(`import { Handle, Collection, resultKey, resultKeys, entity, variable, binary, wrapped } from "../handle.js";
import type { Caller, CallOptions, Key, WithKey, Seconds } from "../handle.js";
import type { Subscription, SubscribeOptions } from "../events.js";
import type * as M from "./models.js";

`)
	for _, h := range a.handles {
		a.renderHandle(&b, h)
	}
	for _, c := range a.colls {
		a.renderCollection(&b, c)
	}
	a.renderRoot(&b)
	a.renderMethodTable(&b)
	return b.Bytes()
}

func (a *api) paramsDoc(m *tsMethod) string {
	return fmt.Sprintf("Parameters of %s (ARI %s %s). Names are ARI's; absent members take ARI's defaults.", m.Op.ID, m.Op.Method, m.Op.Path)
}

func (a *api) renderParams(b *bytes.Buffer, m *tsMethod) {
	docLines(b, "", a.paramsDoc(m))
	fmt.Fprintf(b, "export interface %s {\n", m.Params)
	for _, f := range m.Fields {
		text := sentence(f.Param.Description)
		if len(f.Param.Allowed) > 0 {
			text += " One of: " + strings.Join(f.Param.Allowed, ", ") + "."
		}
		if f.Param.Default != "" {
			text += " ARI default: " + f.Param.Default + "."
		}
		if f.TS == "Seconds" {
			text += " Seconds (fractions rounded), or a Date to count the seconds until."
		}
		docLines(b, "  ", text)
		opt := "?"
		if f.Param.Required {
			opt = ""
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", tsName(f.Param.Name), opt, f.TS)
	}
	b.WriteString("}\n\n")
}

func (a *api) retType(m *tsMethod) (string, []string) {
	r := m.Kind.Result
	switch r.Shape {
	case wire.ShapeKey:
		if h := a.handleClass(r.Kind); h != "" {
			return h, []string{fmt.Sprintf("return new %s(this.caller, resultKey(resp, %q, %s));", h, r.Kind, baseOf(m))}
		}
	case wire.ShapeKeys:
		if h := a.handleClass(r.Kind); h != "" {
			return h + "[]", []string{fmt.Sprintf("return resultKeys(resp, %q, %s).map((k) => new %s(this.caller, k));", r.Kind, baseOf(m), h)}
		}
	}
	return m.Ret, m.Body
}

func baseOf(m *tsMethod) string {
	if gk, _ := wire.LookupKind(m.Op.ID); gk != nil && gk.KeyKind != "" {
		return "this.key"
	}
	return "this.caller.fillKey({})"
}

func (a *api) renderMethod(b *bytes.Buffer, m *tsMethod) {
	op := m.Op
	summary := sentence(op.Summary)
	if summary == "" {
		summary = "Calls " + op.ID + "."
	}
	text := summary + "\n\n" + fmt.Sprintf("ARI `%s %s` (%s), bus kind `%s` (class %s).", op.Method, op.Path, op.ID, m.Kind.Name, m.Kind.Class)
	if len(op.Errors) > 0 {
		var errs []string
		for _, e := range op.Errors {
			errs = append(errs, fmt.Sprintf("%d %s", e.Code, strings.TrimRight(e.Reason, ". ")))
		}
		text += "\nARI errors: " + strings.Join(errs, "; ") + "."
	}
	docLines(b, "  ", text)
	opt := "?"
	if m.Required {
		opt = ""
	}
	ret, body := a.retType(m)
	fmt.Fprintf(b, "  async %s(params%s: %s, options?: CallOptions): Promise<%s> {\n", m.Name, opt, m.Params, ret)
	key := "this.key"
	if baseOf(m) != "this.key" {
		key = "{}"
	}
	if ret == "void" {
		fmt.Fprintf(b, "    await this.caller.call(%q, %s, params, options);\n  }\n\n", op.ID, key)
		return
	}
	fmt.Fprintf(b, "    const resp = await this.caller.call(%q, %s, params, options);\n", op.ID, key)
	for _, l := range body {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("  }\n\n")
}

func (a *api) renderHandle(b *bytes.Buffer, h *handle) {
	for _, m := range h.Methods {
		a.renderParams(b, m)
	}
	cls := h.Class + "Handle"
	docLines(b, "", fmt.Sprintf("A %s on the bus, named by its key (kind `%s`; the id is %s). Its methods send requests to the server that has it: the one of the key's node, or, with a partial key (no node), every server of the application, taking the answer of the one that has it.", h.Class, h.Kind, strings.Join(h.Params, " \"/\" ")))
	fmt.Fprintf(b, "export class %s extends Handle {\n", cls)
	fmt.Fprintf(b, "  /** The key kind of these handles. */\n  static readonly kind = %q;\n\n", h.Kind)
	if h.Subscribe != "" {
		docLines(b, "  ", fmt.Sprintf("Delivers the events of this %s only (of `options.types` when given): binds it to a fresh dialog on the servers (bus kind `%s`) and listens on that dialog's subject. Closing the subscription unbinds the dialog.", h.Class, h.Subscribe))
		fmt.Fprintf(b, "  subscribe(options?: SubscribeOptions): Promise<Subscription> {\n    return this.caller.subscribeResource(%q, this.key, options);\n  }\n\n", h.Subscribe)
	}
	for _, m := range h.Methods {
		a.renderMethod(b, m)
	}
	b.WriteString("}\n\n")
}

func (a *api) renderCollection(b *bytes.Buffer, c *collection) {
	for _, m := range c.Methods {
		a.renderParams(b, m)
	}
	docLines(b, "", fmt.Sprintf("The ARI %s operations that address no single entity (lists, creates and the like).", c.Resource))
	fmt.Fprintf(b, "export class %s extends Collection {\n", c.Class)
	for _, m := range c.Methods {
		a.renderMethod(b, m)
	}
	b.WriteString("}\n\n")
}

// renderRoot writes the base class of the client: one collection per ARI
// resource and a handle constructor per key kind.
func (a *api) renderRoot(b *bytes.Buffer) {
	b.WriteString("/** The generated part of AriProxy: collections and handle constructors. */\nexport abstract class GeneratedClient {\n")
	for _, c := range a.colls {
		fmt.Fprintf(b, "  /** ARI %s operations that address no single entity. */\n  readonly %s: %s;\n", c.Resource, c.Resource, c.Class)
	}
	b.WriteString("\n  protected constructor(protected readonly caller: Caller) {\n")
	for _, c := range a.colls {
		fmt.Fprintf(b, "    this.%s = new %s(caller);\n", c.Resource, c.Class)
	}
	b.WriteString("  }\n\n")
	for _, h := range a.handles {
		cls := h.Class + "Handle"
		args := make([]string, len(h.Params))
		for i, p := range h.Params {
			args[i] = p + ": string"
		}
		id := h.Params[0]
		if len(h.Params) > 1 {
			id = "[" + strings.Join(h.Params, ", ") + "].join(\"/\")"
		}
		docLines(b, "  ", fmt.Sprintf("A handle on the %s %s, with this client's application (and node, when pinned). Sends nothing.", h.Class, strings.Join(h.Params, ", ")))
		fmt.Fprintf(b, "  %s(%s): %s {\n    return new %s(this.caller, this.caller.fillKey({ kind: %q, id: Handle.keyPart(%s) }));\n  }\n\n",
			lowerFirst(h.Class), strings.Join(args, ", "), cls, cls, h.Kind, id)
		docLines(b, "  ", fmt.Sprintf("A handle on the %s a key names (from an event, a reply or another process).", h.Class))
		fmt.Fprintf(b, "  %sFromKey(key: Key): %s {\n    return new %s(this.caller, Handle.checkKey(key, %q));\n  }\n\n", lowerFirst(h.Class), cls, cls, h.Kind)
	}
	b.WriteString("}\n\n")
}

// renderMethodTable lists every generated method, for tests and tools
// that go over the whole surface.
func (a *api) renderMethodTable(b *bytes.Buffer) {
	b.WriteString("/** Where each ARI operation lives in the SDK: a handle class (by key kind) or a collection. */\nexport interface MethodRow {\n  readonly op: string;\n  readonly on: \"handle\" | \"collection\";\n  /** Key kind (handles) or collection property (collections). */\n  readonly target: string;\n  readonly method: string;\n  /** For handles: the client method making one from a key. */\n  readonly fromKey?: string;\n  readonly returns: string;\n}\n\n")
	b.WriteString("/** Every generated method, in operation table order. */\nexport const METHODS: readonly MethodRow[] = [\n")
	for _, m := range a.methods {
		on, target, from := "collection", m.Op.Resource, ""
		if gk, _ := wire.LookupKind(m.Op.ID); gk != nil && gk.KeyKind != "" {
			on, target = "handle", gk.KeyKind
			from = fmt.Sprintf(" fromKey: %q,", lowerFirst(className(gk.KeyKind))+"FromKey")
		}
		ret, _ := a.retType(m)
		fmt.Fprintf(b, "  { op: %q, on: %q, target: %q, method: %q,%s returns: %q },\n", m.Op.ID, on, target, m.Name, from, ret)
	}
	b.WriteString("];\n")
}

func upperFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func lowerFirst(s string) string {
	// "LiveRecording" -> "liveRecording"; an initialism stays readable.
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
