package arisim

// The /mailboxes resource (res/ari/resource_mailboxes.c). Its module,
// res_ari_mailboxes.so, is not loaded on the recorded Asterisk.

type mailboxJSON struct {
	Name        string `json:"name"`
	OldMessages int    `json:"old_messages"`
	NewMessages int    `json:"new_messages"`
}

type mailbox struct {
	name           string
	oldMsg, newMsg int
	seq            uint64
}

func (s *Sim) mailboxesLoaded() bool { return s.moduleLoaded("res_ari_mailboxes.so") }

func (s api) MailboxesList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	list := make([]*mailbox, 0, len(s.state.mailboxes))
	for _, m := range s.state.mailboxes {
		list = append(list, m)
	}
	sortBy(list, func(m *mailbox) uint64 { return m.seq })
	out := make([]mailboxJSON, 0, len(list))
	for _, m := range list {
		out = append(out, mailboxJSON{m.name, m.oldMsg, m.newMsg})
	}
	return okJSON(out)
}

func (s api) MailboxesGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	m := s.state.mailboxes[r.str("mailboxName")]
	if m == nil {
		// ast_ari_mailboxes_get's message, typo included.
		return fail(404, "Mailbox is does not exist")
	}
	return okJSON(mailboxJSON{m.name, m.oldMsg, m.newMsg})
}

func (s api) MailboxesUpdate(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	name := r.str("mailboxName")
	m := s.state.mailboxes[name]
	if m == nil {
		s.state.storedSeq++
		m = &mailbox{name: name, seq: s.state.storedSeq}
		s.state.mailboxes[name] = m
	}
	m.oldMsg, m.newMsg = r.int("oldMessages", 0), r.int("newMessages", 0)
	return noContent()
}

func (s api) MailboxesDelete(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	name := r.str("mailboxName")
	if s.state.mailboxes[name] == nil {
		return fail(404, "Mailbox does not exist")
	}
	delete(s.state.mailboxes, name)
	return noContent()
}

func (s *Sim) mailboxesAvailable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailboxesLoaded()
}
