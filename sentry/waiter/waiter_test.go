package waiter

import (
	"testing"
	"time"
)

func TestNotifyWakesMatchingEntries(t *testing.T) {
	var q Queue
	in, inCh := NewEntry(EventIn)
	out, outCh := NewEntry(EventOut)
	q.EventRegister(in)
	q.EventRegister(out)
	q.Notify(EventIn)
	select {
	case <-inCh:
	case <-time.After(time.Second):
		t.Fatal("reader not woken by EventIn")
	}
	select {
	case <-outCh:
		t.Fatal("writer woken by EventIn")
	default:
	}
	if got := in.Fired(); got != EventIn {
		t.Errorf("fired = %#x, want EventIn", got)
	}
	// Hang-ups wake everyone.
	q.Notify(EventHUp)
	select {
	case <-outCh:
	case <-time.After(time.Second):
		t.Fatal("writer not woken by EventHUp")
	}
	q.EventUnregister(in)
	q.Notify(EventIn)
	select {
	case <-inCh:
		// The earlier EventHUp may still be buffered; drain and recheck.
		q.Notify(EventIn)
		select {
		case <-inCh:
			t.Fatal("unregistered entry woken")
		default:
		}
	default:
	}
}
