package status

import (
	"time"
)

// Topology is what runs in this process: the systems and the flows
// between them.
type Topology struct {
	Systems []System
	Flows   []Flow
}

// System is one system of the run.
type System struct {
	Name    string
	Kind    string // postgres or mysql
	Capture bool   // its capture runs here
	Sink    bool   // its sink runs here
}

// Flow sends an entity's changes from one system to another.
type Flow struct {
	Entity, From, To string
}

// Outcomes are what a sink does with an event, in display order.
var Outcomes = []string{"applied", "noop", "skipped", "duplicate", "loop", "dlq"}

// Metric names the view reads.
const (
	mEntityEvents  = "tandem_entity_events_total"
	mEntityBad     = "tandem_entity_bad_values_total"
	mEntitySkipped = "tandem_entity_skipped_total"
	mChanges       = "tandem_capture_changes_total"
	mTransactions  = "tandem_capture_transactions_total"
	mLoopDrops     = "tandem_capture_loop_dropped_transactions_total"
	mAckAge        = "tandem_publish_last_ack_age_seconds"
	mPubInFlight   = "tandem_publish_in_flight_bytes"
	mSinkEvents    = "tandem_sink_events_total"
	mSinkConflicts = "tandem_sink_conflicts_total"
	mSinkRetries   = "tandem_sink_transient_retries_total"
	mSinkWaiting   = "tandem_sink_partitions_waiting"
	mSinkInFlight  = "tandem_sink_in_flight_bytes"
)

// Scopes of a flow's applied numbers.
const (
	scopeFlow = "flow" // what the sink reported for the flow
	scopeSink = "sink" // the sink's totals over every flow into it
)

// Defaults.
const (
	recentPerSink   = 20 // last events shown per sink
	defaultInterval = time.Second
	defaultWindow   = 5 * time.Second
	defaultKeep     = 60
)

// Count is a counter's total and its rate over the view's window.
type Count struct {
	Total float64 `json:"total"`
	Rate  float64 `json:"per_second"`
}

// View is the status at one time, as /status.json returns it.
type View struct {
	Time          time.Time    `json:"time"`
	WindowSeconds float64      `json:"window_seconds"` // what the rates cover; 0 until two samples
	Error         string       `json:"error,omitempty"`
	Flows         []FlowView   `json:"flows"`
	Systems       []SystemView `json:"systems"`
	Sinks         []SinkView   `json:"sinks"`
}

// FlowView is one flow's numbers.
type FlowView struct {
	Entity string `json:"entity"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Captured counts the entity events built at the from-system.
	Captured Count `json:"captured"`
	// Applied counts what the to-system's sink did, by outcome. Its scope
	// is "flow" when the sink reports its events (per entity and origin),
	// else "sink": every flow into the to-system together.
	Applied      map[string]Count `json:"applied"`
	AppliedScope string           `json:"applied_scope"`
	// DLQ counts the events that went to a dead-letter topic: values the
	// capture could not convert, plus the sink's dead letters (in the
	// scope of Applied).
	DLQ       float64 `json:"dlq"`
	Conflicts float64 `json:"conflicts"`
}

// SystemView is one system's capture and sink numbers. Pointers are nil
// where the part does not run (or has not reported yet).
type SystemView struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Capture bool   `json:"capture"`
	Sink    bool   `json:"sink"`

	Changes      Count `json:"changes"`
	Transactions Count `json:"transactions"`
	LoopDrops    Count `json:"loop_drops"`
	// LastAckAgeSeconds is the time since the capture last acked a
	// position to the source; CaptureLagSeconds is that age while Kafka
	// has not acknowledged everything published (InFlightBytes > 0), and
	// 0 when the capture has caught up (an idle source acks nothing).
	LastAckAgeSeconds *float64 `json:"last_ack_age_seconds"`
	CaptureLagSeconds *float64 `json:"capture_lag_seconds"`
	InFlightBytes     *float64 `json:"publish_in_flight_bytes"`
	Skipped           float64  `json:"entity_skipped"`

	SinkEvents        Count    `json:"sink_events"`
	PartitionsWaiting *float64 `json:"sink_partitions_waiting"`
	SinkRetries       float64  `json:"sink_retries"`
	SinkInFlightBytes *float64 `json:"sink_in_flight_bytes"`
}

// SinkView is one sink's outcomes and its last events, newest first.
type SinkView struct {
	Name     string           `json:"name"`
	Outcomes map[string]Count `json:"outcomes"`
	Reports  bool             `json:"reports_events"` // the sink reports its events (else Recent stays empty)
	Recent   []Event          `json:"recent"`
}

// buildView computes the view of topo from the sampler's window.
func buildView(topo Topology, s *sampler, events *Events, span time.Duration) View {
	w, done := s.window(span)
	defer done()
	v := View{WindowSeconds: w.seconds(), Flows: []FlowView{}, Systems: []SystemView{}, Sinks: []SinkView{}}
	if w.last != nil {
		v.Time = w.last.at
	}
	if s.err != nil {
		v.Error = s.err.Error()
	}
	for _, f := range topo.Flows {
		v.Flows = append(v.Flows, flowView(w, f, events.Hooked(f.To)))
	}
	for _, sys := range topo.Systems {
		v.Systems = append(v.Systems, systemView(w, sys))
		if sys.Sink {
			sv := SinkView{Name: sys.Name, Outcomes: outcomes(w, mSinkEvents, labels{"sink": sys.Name}),
				Reports: events.Hooked(sys.Name), Recent: []Event{}}
			if events != nil {
				sv.Recent = events.Recorder(sys.Name).Recent(recentPerSink)
			}
			v.Sinks = append(v.Sinks, sv)
		}
	}
	return v
}

func flowView(w window, f Flow, hooked bool) FlowView {
	fv := FlowView{Entity: f.Entity, From: f.From, To: f.To,
		Captured: w.count(mEntityEvents, labels{"system": f.From, "entity": f.Entity})}
	if hooked {
		fv.AppliedScope = scopeFlow
		fv.Applied = outcomes(w, flowEventsSeries, labels{"sink": f.To, "entity": f.Entity, "origin": f.From})
	} else {
		fv.AppliedScope = scopeSink
		fv.Applied = outcomes(w, mSinkEvents, labels{"sink": f.To})
	}
	bad, _ := w.sum(mEntityBad, labels{"system": f.From, "entity": f.Entity})
	fv.DLQ = bad + fv.Applied["dlq"].Total
	fv.Conflicts, _ = w.sum(mSinkConflicts, labels{"sink": f.To, "entity": f.Entity})
	return fv
}

func outcomes(w window, name string, match labels) map[string]Count {
	out := make(map[string]Count, len(Outcomes))
	for _, o := range Outcomes {
		m := labels{"outcome": o}
		for k, v := range match {
			m[k] = v
		}
		out[o] = w.count(name, m)
	}
	return out
}

func systemView(w window, sys System) SystemView {
	sv := SystemView{Name: sys.Name, Kind: sys.Kind, Capture: sys.Capture, Sink: sys.Sink}
	if sys.Capture {
		l := labels{"system": sys.Name}
		sv.Changes = w.count(mChanges, l)
		sv.Transactions = w.count(mTransactions, l)
		sv.LoopDrops = w.count(mLoopDrops, l)
		sv.Skipped, _ = w.sum(mEntitySkipped, l)
		sv.LastAckAgeSeconds = w.gauge(mAckAge, l)
		sv.InFlightBytes = w.gauge(mPubInFlight, l)
		if age := sv.LastAckAgeSeconds; age != nil {
			lag := 0.0
			if sv.InFlightBytes != nil && *sv.InFlightBytes > 0 {
				lag = *age
			}
			sv.CaptureLagSeconds = &lag
		}
	}
	if sys.Sink {
		l := labels{"sink": sys.Name}
		sv.SinkEvents = w.count(mSinkEvents, l)
		sv.PartitionsWaiting = w.gauge(mSinkWaiting, l)
		sv.SinkRetries, _ = w.sum(mSinkRetries, l)
		sv.SinkInFlightBytes = w.gauge(mSinkInFlight, l)
	}
	return sv
}
