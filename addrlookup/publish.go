package addrlookup

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of PublishLoopOptions, as Rust iroh's pkarr publisher.
const (
	// DefaultRepublish is how often unchanged info is published again.
	DefaultRepublish = 5 * time.Minute
	// DefaultRetryBase is the retry step: after n consecutive failures the
	// next attempt is n × DefaultRetryBase later.
	DefaultRetryBase = time.Second
	// DefaultPublishTimeout bounds one Publish call.
	DefaultPublishTimeout = 30 * time.Second
)

// PublishLoopOptions configures a PublishLoop. A nil *PublishLoopOptions
// means all defaults.
type PublishLoopOptions struct {
	// Republish is the interval between publications of unchanged info.
	// Zero means DefaultRepublish.
	Republish time.Duration
	// RetryBase: after n consecutive failures the loop waits n × RetryBase
	// (capped at Republish) before trying again. Zero means
	// DefaultRetryBase.
	RetryBase time.Duration
	// Timeout bounds one Publish call. Zero means DefaultPublishTimeout.
	Timeout time.Duration
	// Logger receives the loop's logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts publish attempts; nil means new unregistered metrics.
	Metrics *Metrics
}

// PublishStatus is the state of a PublishLoop.
type PublishStatus struct {
	// Published is the info last published successfully, and At when.
	Published EndpointInfo
	At        time.Time
	// Failures counts consecutive failed attempts; Err is the last one's
	// error (nil after a success).
	Failures int
	Err      error
}

// PublishLoop keeps our info published with one Publisher: it publishes
// on every change given to Update, republishes unchanged info every
// Republish interval and retries failures after 1, 2, 3... × RetryBase.
// Nothing is published before the first Update.
type PublishLoop struct {
	// Set in NewPublishLoop, then read-only.
	pub     Publisher
	opts    PublishLoopOptions
	log     *slog.Logger
	updates chan EndpointInfo // capacity 1, latest wins
	cancel  context.CancelFunc
	done    chan struct{}

	// mu guards the following.
	mu     sync.Mutex
	status PublishStatus
}

// NewPublishLoop starts a loop publishing with p. Stop it with Close.
func NewPublishLoop(p Publisher, opts *PublishLoopOptions) (*PublishLoop, error) {
	if p == nil {
		return nil, fmt.Errorf("addrlookup: publish loop: nil Publisher")
	}
	var o PublishLoopOptions
	if opts != nil {
		o = *opts
	}
	if o.Republish < 0 || o.RetryBase < 0 || o.Timeout < 0 {
		return nil, fmt.Errorf("addrlookup: publish loop: negative interval")
	}
	if o.Republish == 0 {
		o.Republish = DefaultRepublish
	}
	if o.RetryBase == 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultPublishTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &PublishLoop{pub: p, opts: o, log: o.Logger.With("component", "addrlookup", "publisher", fmt.Sprintf("%T", p)),
		updates: make(chan EndpointInfo, 1), cancel: cancel, done: make(chan struct{})}
	go l.run(ctx)
	return l, nil
}

// Update hands the loop our current info. It never blocks; if the loop has
// not taken the previous update yet, info replaces it. Info equal to what
// is already being published (Equal and same TTL) changes nothing.
func (l *PublishLoop) Update(info EndpointInfo) {
	for {
		select {
		case l.updates <- info:
			return
		default:
		}
		select {
		case <-l.updates:
		default:
		}
	}
}

// Status returns the loop's current state.
func (l *PublishLoop) Status() PublishStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// Close stops the loop, cancelling a Publish in progress, and waits for
// it. It is safe to call more than once.
func (l *PublishLoop) Close() {
	l.cancel()
	<-l.done
}

func (l *PublishLoop) run(ctx context.Context) {
	defer close(l.done)
	var cur EndpointInfo
	have := false
	failures := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case info := <-l.updates:
			if have && info.Equal(cur) && info.TTL == cur.TTL {
				continue
			}
			cur, have, failures = info, true, 0
		case <-timer.C:
		}
		pctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		err := l.pub.Publish(pctx, cur)
		cancel()
		if ctx.Err() != nil {
			return
		}
		next := l.opts.Republish
		if err != nil {
			l.opts.Metrics.Publishes.WithLabelValues("error").Inc()
			failures++
			next = min(time.Duration(failures)*l.opts.RetryBase, l.opts.Republish)
			l.log.Debug("publish failed", "endpoint_id", cur.ID.ShortString(), "failures", failures, "retry_in", next, "err", err)
			if failures == 3 {
				l.log.Warn("publishing keeps failing", "endpoint_id", cur.ID.ShortString(), "err", err)
			}
		} else {
			l.opts.Metrics.Publishes.WithLabelValues("ok").Inc()
			if failures >= 3 {
				l.log.Info("publishing recovered", "endpoint_id", cur.ID.ShortString())
			}
			failures = 0
			l.log.Debug("published", "endpoint_id", cur.ID.ShortString())
		}
		l.mu.Lock()
		l.status.Failures, l.status.Err = failures, err
		if err == nil {
			l.status.Published, l.status.At = cur, time.Now()
		}
		l.mu.Unlock()
		timer.Reset(next)
	}
}
