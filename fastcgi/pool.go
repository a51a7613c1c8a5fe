package fastcgi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool holds the keep-alive connections to one address. It caps the open
// connections (idle and busy together) at max: every open connection pins
// one php-fpm child, so a pool larger than the children would leave
// requests of other processes queued behind idle connections. A request
// that finds every connection busy waits for one (bounded by its deadline)
// instead of dialing.
type pool struct {
	addr        string
	max         int
	idleTimeout time.Duration
	stats       *PoolStats

	mu      sync.Mutex
	idle    []*conn // most recently used last
	open    int
	waiters []chan struct{}
	janitor *time.Timer
	closed  bool
}

// PoolStats are the keep-alive pool's counters, per Client (all addresses).
type PoolStats struct {
	Idle      atomic.Int64 // idle connections now (a gauge)
	Reused    atomic.Int64 // requests served on a kept connection
	Waited    atomic.Int64 // requests that waited for a busy pool
	Expired   atomic.Int64 // idle connections closed after idle_timeout
	Dead      atomic.Int64 // idle connections found closed by the application
	Discarded atomic.Int64 // connections closed after an exchange (error, unread input, full pool)
}

func newPool(addr string, max int, idleTimeout time.Duration, stats *PoolStats) *pool {
	return &pool{addr: addr, max: max, idleTimeout: idleTimeout, stats: stats}
}

// get returns an idle connection that is still alive, or (nil, nil) when
// the caller may dial a new one (the slot is then counted as open: call
// release if the dial fails). It waits while max connections are open.
func (p *pool) get(ctx context.Context, deadline time.Time) (*conn, error) {
	waited := false
	for {
		p.mu.Lock()
		if c := p.popLocked(); c != nil {
			p.mu.Unlock()
			if c.alive() {
				c.reused = true
				p.stats.Reused.Add(1)
				return c, nil
			}
			p.stats.Dead.Add(1)
			p.discard(c)
			continue
		}
		if p.open < p.max || p.closed {
			p.open++
			p.mu.Unlock()
			return nil, nil
		}
		ch := make(chan struct{}, 1)
		p.waiters = append(p.waiters, ch)
		p.mu.Unlock()
		if !waited {
			waited = true
			p.stats.Waited.Add(1)
		}
		if err := wait(ctx, deadline, ch); err != nil {
			p.mu.Lock()
			p.removeWaiterLocked(ch)
			p.mu.Unlock()
			return nil, err
		}
	}
}

// wait blocks until ch is signalled, ctx is done or the deadline passes.
func wait(ctx context.Context, deadline time.Time, ch chan struct{}) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return &Error{Kind: KindCanceled, Err: ctx.Err()}
	case <-t.C:
		return newError(KindTimeout, "no free connection in the keep-alive pool before the deadline")
	}
}

// popLocked takes the most recently used idle connection, closing expired
// ones on the way.
func (p *pool) popLocked() *conn {
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.stats.Idle.Add(-1)
		if time.Since(c.idleSince) < p.idleTimeout {
			return c
		}
		p.stats.Expired.Add(1)
		p.open--
		go c.close()
	}
	return nil
}

// put returns a healthy connection to the pool.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.discard(c)
		return
	}
	c.idleSince = time.Now()
	p.idle = append(p.idle, c)
	p.stats.Idle.Add(1)
	if p.janitor == nil {
		p.janitor = time.AfterFunc(p.idleTimeout, p.sweep)
	}
	p.wakeLocked()
	p.mu.Unlock()
}

// discard closes a connection and frees its slot.
func (p *pool) discard(c *conn) {
	c.close()
	p.release()
}

// release frees a slot whose connection is gone (or was never dialed).
func (p *pool) release() {
	p.mu.Lock()
	p.open--
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *pool) wakeLocked() {
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- struct{}{}
	}
}

func (p *pool) removeWaiterLocked(ch chan struct{}) {
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return
		}
	}
	// Already signalled: pass the wake-up on.
	p.wakeLocked()
}

// sweep closes idle connections past idle_timeout; it reschedules itself
// while connections stay idle, so an unused pool holds no timer.
func (p *pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.idle[:0]
	for _, c := range p.idle {
		if time.Since(c.idleSince) >= p.idleTimeout {
			p.stats.Expired.Add(1)
			p.stats.Idle.Add(-1)
			p.open--
			go c.close()
			continue
		}
		keep = append(keep, c)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.wakeLocked()
	if len(p.idle) > 0 && !p.closed {
		p.janitor = time.AfterFunc(p.idleTimeout/2+time.Millisecond, p.sweep)
	} else {
		p.janitor = nil
	}
}

// close closes the idle connections; busy ones are closed when returned.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.stats.Idle.Add(-int64(len(idle)))
	if p.janitor != nil {
		p.janitor.Stop()
		p.janitor = nil
	}
	for len(p.waiters) > 0 {
		p.wakeLocked()
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}
