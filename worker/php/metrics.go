package php

import (
	"sync"
	"sync/atomic"
	"time"
)

// Metrics are the PHP counters of one vhost, shared by every PHP block of
// the vhost in this worker process (and kept across reloads of the same
// process). A metrics exporter reads them with the atomic Load methods;
// they map to Fluxheim's fluxheim_php_requests_total,
// fluxheim_php_request_duration_seconds, fluxheim_php_fpm_retries_total and
// fluxheim_php_stderr_events_total.
type Metrics struct {
	// Requests counts requests handed to php-fpm (scripts run or tried).
	Requests atomic.Int64
	// Failures counts those that ended in a fluxheim error (502, 503, 504).
	Failures atomic.Int64
	// Rejected counts requests refused with 503 by max_in_flight.
	Rejected atomic.Int64
	// Retries counts extra php-fpm attempts (retries and failovers).
	Retries atomic.Int64
	// StderrEvents counts responses with stderr output.
	StderrEvents atomic.Int64
	// Duration is the time from the start of the PHP handler to the
	// complete php-fpm response (or failure).
	Duration Histogram
}

// DurationBuckets are the upper bounds (seconds) of Histogram buckets.
var DurationBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Histogram is a cumulative-free latency histogram: Buckets[i] counts
// observations ≤ DurationBuckets[i] and > the previous bound; the last
// slot counts the rest (+Inf).
type Histogram struct {
	Buckets [len(DurationBuckets) + 1]atomic.Int64
	Count   atomic.Int64
	// SumMicros is the sum of observations in microseconds.
	SumMicros atomic.Int64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(DurationBuckets) && s > DurationBuckets[i] {
		i++
	}
	h.Buckets[i].Add(1)
	h.Count.Add(1)
	h.SumMicros.Add(d.Microseconds())
}

var registry sync.Map // vhost name -> *Metrics

// MetricsFor returns the counters of a vhost, creating them on first use.
func MetricsFor(vhost string) *Metrics {
	if m, ok := registry.Load(vhost); ok {
		return m.(*Metrics)
	}
	m, _ := registry.LoadOrStore(vhost, new(Metrics))
	return m.(*Metrics)
}

// EachMetrics calls fn for every vhost with PHP counters.
func EachMetrics(fn func(vhost string, m *Metrics)) {
	registry.Range(func(k, v any) bool {
		fn(k.(string), v.(*Metrics))
		return true
	})
}
