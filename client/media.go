package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/ariproxy/ari-proxy/ari"
)

// ErrPlaybackFailed is returned by PlaybackHandle.Wait when Asterisk
// reports the playback failed (its media could not be played).
var ErrPlaybackFailed = errors.New("client: playback failed")

// ErrRecordingFailed is returned by LiveRecordingHandle.Wait when Asterisk
// reports the recording failed.
var ErrRecordingFailed = errors.New("client: recording failed")

// Wait blocks until the playback has finished (PlaybackFinished): nil when
// it played to its end or was stopped, an error matching ErrPlaybackFailed
// when it failed, ctx's error when ctx ends first. A playback already gone
// when Wait starts counts as finished.
func (h *PlaybackHandle) Wait(ctx context.Context) error {
	sub, err := h.Subscribe(ctx, ari.TypePlaybackFinished)
	if err != nil {
		return err
	}
	defer sub.Close()
	// Subscribed first, then looked at: an end between the two is seen.
	pb, err := h.Get(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case pb.State == "failed":
		return fmt.Errorf("%w: %s on %s", ErrPlaybackFailed, pb.MediaURI, pb.TargetURI)
	case pb.State == "done":
		return nil
	}
	return waitPlayback(ctx, sub, h.ID())
}

// waitPlayback waits on sub for the PlaybackFinished of playback id.
func waitPlayback(ctx context.Context, sub *Subscription, id string) error {
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return ErrClosed
			}
			if f, ok := ev.(*ari.PlaybackFinished); ok && f.Playback.ID == id {
				if f.Playback.State == "failed" {
					return fmt.Errorf("%w: %s on %s", ErrPlaybackFailed, f.Playback.MediaURI, f.Playback.TargetURI)
				}
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// playAndWait watches a playback id before it exists, starts it with play
// and waits for its end: unlike Play then Wait, a failure at once is seen.
func (c *Client) playAndWait(ctx context.Context, target Key, play func(id string) error) error {
	id := NewDialogID()
	pb := c.PlaybackFromKey(Key{Kind: "playback", ID: id, Node: target.Node, App: target.App})
	sub, err := pb.Subscribe(ctx, ari.TypePlaybackFinished)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := play(id); err != nil {
		return err
	}
	return waitPlayback(ctx, sub, id)
}

// Wait blocks until the recording has ended and returns the handle of the
// recording stored (RecordingFinished), on the same node; an error
// matching ErrRecordingFailed when it failed, ctx's error when ctx ends
// first. A recording already gone when Wait starts gives its stored
// recording, or ErrRecordingFailed when none was stored.
func (h *LiveRecordingHandle) Wait(ctx context.Context) (*StoredRecordingHandle, error) {
	sub, err := h.Subscribe(ctx, ari.TypeRecordingFinished, ari.TypeRecordingFailed)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	rec, err := h.GetLive(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		stored := h.Stored()
		if _, err := stored.GetStored(ctx); errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s ended without a stored recording (failed or canceled)", ErrRecordingFailed, h.ID())
		} else if err != nil {
			return nil, err
		}
		return stored, nil
	case err != nil:
		return nil, err
	case rec.State == "failed":
		return nil, fmt.Errorf("%w: %s: %s", ErrRecordingFailed, h.ID(), rec.Cause)
	case rec.State == "done" || rec.State == "canceled":
		return h.Stored(), nil
	}
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return nil, ErrClosed
			}
			switch e := ev.(type) {
			case *ari.RecordingFinished:
				if e.Recording.Name == h.ID() {
					return h.Stored(), nil
				}
			case *ari.RecordingFailed:
				if e.Recording.Name == h.ID() {
					return nil, fmt.Errorf("%w: %s: %s", ErrRecordingFailed, h.ID(), e.Recording.Cause)
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Stored returns the handle of the recording this live recording stores
// once finished: same name, on the same node.
func (h *LiveRecordingHandle) Stored() *StoredRecordingHandle {
	k := h.key
	k.Kind = "storedrecording"
	k.Dialog = ""
	return h.c.StoredRecordingFromKey(k)
}

// PlayAndWait plays media on the channel (URIs such as "sound:hello-world",
// played in turn) and waits until the playback has finished: nil when it
// played to its end or was stopped, an error matching ErrPlaybackFailed
// when it failed.
func (h *ChannelHandle) PlayAndWait(ctx context.Context, media ...string) error {
	return h.c.playAndWait(ctx, h.key, func(id string) error {
		_, err := h.PlayWithID(ctx, &ChannelPlayWithIDParams{PlaybackID: id, Media: media})
		return err
	})
}

// PlayAndWait plays media to every channel of the bridge and waits until
// the playback has finished; see ChannelHandle.PlayAndWait.
func (h *BridgeHandle) PlayAndWait(ctx context.Context, media ...string) error {
	return h.c.playAndWait(ctx, h.key, func(id string) error {
		_, err := h.PlayWithID(ctx, &BridgePlayWithIDParams{PlaybackID: id, Media: media})
		return err
	})
}
