package arisim

import (
	_ "embed"
	"strings"
	"time"
)

// The /sounds resource (res/ari/resource_sounds.c) and sound lengths.

// soundLength is the simulated length of a sound of the catalogue.
func soundLength(id string) (time.Duration, bool) {
	if !soundExists(id) {
		return 0, false
	}
	return soundDuration(id), true
}

// soundDuration gives sounds plausible lengths; demo-congrats lasts a few
// seconds, beep a quarter of one.
func soundDuration(id string) time.Duration {
	switch {
	case id == "beep":
		return 250 * time.Millisecond
	case id == "demo-congrats":
		return 5 * time.Second
	case strings.HasPrefix(id, "silence/"):
		return time.Duration(atoi(strings.TrimPrefix(id, "silence/"))) * time.Second
	case strings.HasPrefix(id, "digits/"), strings.HasPrefix(id, "letters/"), strings.HasPrefix(id, "phonetic/"):
		return 600 * time.Millisecond
	}
	return 2 * time.Second
}

type soundFormatJSON struct {
	Language string `json:"language"`
	Format   string `json:"format"`
}

type soundJSON struct {
	ID      string            `json:"id"`
	Formats []soundFormatJSON `json:"formats"`
}

//go:embed sounds.txt
var soundsList string

var soundIDs = func() []string {
	var ids []string
	for _, l := range strings.Split(soundsList, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ids = append(ids, l)
		}
	}
	return ids
}()

var soundSet = func() map[string]bool {
	m := map[string]bool{}
	for _, id := range soundIDs {
		m[id] = true
	}
	return m
}()

func soundExists(id string) bool { return soundSet[id] }

func soundBody(id string) soundJSON {
	return soundJSON{ID: id, Formats: []soundFormatJSON{{"en", "gsm"}}}
}

func (s api) SoundsList(r *req) resp {
	lang, format := r.str("lang"), r.str("format")
	if (lang != "" && lang != "en") || (format != "" && format != "gsm") {
		return fail(404, "No sounds found that matched the query")
	}
	out := make([]soundJSON, 0, len(soundIDs))
	for _, id := range soundIDs {
		out = append(out, soundBody(id))
	}
	return okJSON(out)
}

func (s api) SoundsGet(r *req) resp {
	id := r.str("soundId")
	if !soundExists(id) {
		return fail(404, "Sound not found")
	}
	return okJSON(soundBody(id))
}
