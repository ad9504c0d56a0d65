package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/tandem-sync/tandem/mapping"
	"github.com/tandem-sync/tandem/sink"
	sinkmy "github.com/tandem-sync/tandem/sink/mysql"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

func newReplayCmd(g *globals) *cobra.Command {
	var (
		o       replayOptions
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Move a sink's stored offsets to an offset or a time, so that its next run re-reads from there",
		Long: `Move the stored checkpoints of one sink (a system that flows go to) so that
its next 'tandem run' reads its topics again from an offset or a time.

A sink keeps its progress in the target database's checkpoint table
(systems.<name>.checkpoint_table), one row per topic partition under its
consumer name (systems.<name>.sink.group, default tandem-sink-<name>), and
starts each partition after the stored offset. Replay rewrites those rows,
in one transaction:

  --to-offset earliest   the first offset Kafka still holds
  --to-offset latest     the end: skip everything published so far
  --to-offset N          offset N (clamped to [earliest, latest], with a note)
  --to-time T            per partition, the first offset whose timestamp is at
                         or after T (Kafka's time index); the end when there
                         is none. T is RFC 3339 (2026-11-30T10:00:00Z) or a
                         duration ago (90m, 2h, 3d).

The stored source position is cleared as well, so the replayed events are
applied again instead of being skipped as duplicates. Applying is
idempotent: the sink writes only values that differ from the target's, so a
replay leaves the target as it is unless the data changed since.

--topic and --partition narrow the replay to one topic or one partition
number; the others keep their checkpoints. --dry-run prints what would
change and changes nothing.

The sink must not be running: replay refuses while the sink's Kafka
consumer group has active members (stop the 'tandem run' that runs it;
after a crash, the group forgets its members once their session times out,
30s); --dry-run only notes it. It prints one row per partition: the offset the sink would read next
before (OLD OFFSET; "(none stored)" when it would start at the earliest)
and after (NEW OFFSET).

Exit code 0 when the checkpoints are moved (or, with --dry-run, shown), 1
when the sink is running or Kafka or the database fails, 2 for bad flags, an
unknown sink, topic or partition, or an invalid config.`,
		Example: `  tandem replay --config tandem.yaml --sink erp --to-time 2h --dry-run
  tandem replay -c tandem.yaml --sink erp --to-time 2026-11-30T10:00:00Z
  tandem replay -c tandem.yaml --sink shop --to-offset earliest --topic tandem.erp.product
  tandem replay -c tandem.yaml --sink shop --to-offset 1200 --topic tandem.erp.product --partition 2`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("unexpected argument %q\nrun '%s --help' for usage", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			to, err := parseReplayTo(o.toOffset, o.toTime, f.Changed("to-offset"), f.Changed("to-time"), time.Now())
			if err != nil {
				return &exitError{code: exitBadUsage, err: err}
			}
			o.to = to
			if f.Changed("partition") && o.partition < 0 {
				return &exitError{code: exitBadUsage, err: fmt.Errorf("--partition %d: a partition number is 0 or more", o.partition)}
			}
			if !f.Changed("partition") {
				o.partition = -1
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return replay(ctx, cfg, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.sink, "sink", "", "the sink to move: a system that flows go to (required)")
	f.StringVar(&o.toOffset, "to-offset", "", "earliest, latest or an offset")
	f.StringVar(&o.toTime, "to-time", "", "an RFC 3339 time (2026-11-30T10:00:00Z) or a duration ago (90m, 2h, 3d)")
	f.StringVar(&o.topic, "topic", "", "only this topic of the sink (default: all its topics)")
	f.IntVar(&o.partition, "partition", 0, "only this partition number (default: all)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change and change nothing")
	f.DurationVar(&timeout, "timeout", 60*time.Second, "give up when Kafka or the database take longer than this")
	return cmd
}

// replayOptions are tandem replay's flags.
type replayOptions struct {
	sink, toOffset, toTime, topic string
	partition                     int // -1: all
	dryRun                        bool
	to                            replayTo
}

// replayTo is where a replay moves each partition to.
type replayTo struct {
	kind   string // earliest, latest, offset or time
	offset int64
	at     time.Time
}

func (r replayTo) String() string {
	switch r.kind {
	case "offset":
		return "offset " + strconv.FormatInt(r.offset, 10)
	case "time":
		return r.at.UTC().Format(time.RFC3339)
	}
	return r.kind
}

// parseReplayTo reads --to-offset and --to-time: exactly one of them.
func parseReplayTo(toOffset, toTime string, offsetSet, timeSet bool, now time.Time) (replayTo, error) {
	switch {
	case offsetSet && timeSet:
		return replayTo{}, errors.New("--to-offset and --to-time exclude each other: give one")
	case !offsetSet && !timeSet:
		return replayTo{}, errors.New("say where to replay from: --to-offset earliest|latest|N or --to-time T")
	case offsetSet:
		switch s := strings.TrimSpace(toOffset); s {
		case "earliest", "latest":
			return replayTo{kind: s}, nil
		default:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return replayTo{}, fmt.Errorf("--to-offset %q: want earliest, latest or an offset (a whole number, 0 or more)", toOffset)
			}
			return replayTo{kind: "offset", offset: n}, nil
		}
	}
	s := strings.TrimSpace(toTime)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return replayTo{kind: "time", at: t}, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return replayTo{}, fmt.Errorf("--to-time %q: want an RFC 3339 time (2026-11-30T10:00:00Z) or a duration ago (90m, 2h, 3d)", toTime)
	}
	return replayTo{kind: "time", at: now.Add(-d)}, nil
}

// parseAgo parses a positive Go duration, or a whole number of days (3d).
func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// replayRow is one partition of a replay.
type replayRow struct {
	tp               sink.TopicPartition
	earliest, latest int64
	stored           *sink.Checkpoint // nil when none is stored
	next             int64            // the offset the sink reads next after the replay
}

// old is the offset the sink would read next without the replay.
func (r replayRow) old() int64 {
	if r.stored == nil {
		return r.earliest
	}
	return r.stored.Offset + 1
}

func replay(ctx context.Context, cfg *mapping.Config, g *globals, o replayOptions) error {
	sys, topics, err := replaySink(cfg, g.configPath, o)
	if err != nil {
		return err
	}
	group := sys.Sink.Group
	client, err := cfg.Kafka.Client()
	if err != nil {
		return err
	}
	defer func() {
		if t, ok := client.Transport.(*kafka.Transport); ok {
			t.CloseIdleConnections()
		}
	}()
	members, err := groupMembers(ctx, client, group)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if len(members) > 0 {
		running := fmt.Errorf("sink %s is running: its consumer group %s has %d active member(s) (%s); stop the tandem run that runs it, then replay (after a crash the group lets its members go once their session times out, 30s)",
			sys.Name, group, len(members), strings.Join(members, ", "))
		if !o.dryRun {
			return &exitError{code: exitFailed, err: running}
		}
		fmt.Fprintf(g.stderr, "note: %v\n", running)
	}
	rows, err := replayPlan(ctx, client, topics, o, g.stderr)
	if err != nil {
		return err
	}
	log := g.logger(cfg.Log)
	target, err := openTarget(ctx, cfg, sys.Name, log)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer target.Close()
	if !o.dryRun {
		// the checkpoint table (and on PostgreSQL the origins its
		// transactions run under) may not exist when the sink never ran
		if err := target.Setup(ctx); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("sink %s: %w", sys.Name, err)}
		}
	}
	stored, err := target.Checkpoints(ctx, group)
	if err != nil {
		if o.dryRun {
			err = fmt.Errorf("%w (has the sink run yet? without --dry-run, replay creates the checkpoint table)", err)
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("sink %s: %w", sys.Name, err)}
	}
	cps := make([]sink.Checkpoint, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if cp, ok := stored[r.tp]; ok {
			r.stored = &cp
		}
		cps = append(cps, sink.Checkpoint{Consumer: group, Topic: r.tp.Topic, Partition: r.tp.Partition, Offset: r.next - 1, Position: ""})
	}
	fmt.Fprintf(g.stdout, "sink %s (consumer %s): replay to %s\n\n", sys.Name, group, o.to)
	printReplay(g.stdout, rows)
	if o.dryRun {
		fmt.Fprintf(g.stdout, "\nDry run: nothing changed. %s\n", replaySummary(sys.Name, rows, true))
		return nil
	}
	if len(cps) > 0 {
		if err := setCheckpoints(ctx, target, cps); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("sink %s: store the checkpoints: %w", sys.Name, err)}
		}
	}
	fmt.Fprintf(g.stdout, "\n%s\n", replaySummary(sys.Name, rows, false))
	// a sink that started meanwhile read the old checkpoints and keeps going
	// from there, overwriting the new ones as it applies
	if members, err := groupMembers(ctx, client, group); err == nil && len(members) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("sink %s started while replay ran (%s): it may overwrite the new checkpoints; stop it and replay again", sys.Name, strings.Join(members, ", "))}
	}
	return nil
}

// replaySink finds the sink of o.sink and the topics the replay covers.
func replaySink(cfg *mapping.Config, configPath string, o replayOptions) (*mapping.System, []string, error) {
	var sinks []string
	for _, n := range cfg.SystemNames() {
		if ts, _ := sink.Topics(cfg, n); len(ts) > 0 {
			sinks = append(sinks, n)
		}
	}
	list := strings.Join(sinks, ", ")
	if len(sinks) == 0 {
		list = "none: no flow is configured"
	}
	sys := cfg.Systems[o.sink]
	switch {
	case o.sink == "":
		return nil, nil, &exitError{code: exitBadUsage, err: fmt.Errorf("--sink is required: the system whose sink to move (systems flows go to: %s)", list)}
	case sys == nil:
		return nil, nil, &exitError{code: exitBadUsage, err: fmt.Errorf("--sink %q is not a system in %s (systems flows go to: %s)", o.sink, configPath, list)}
	case !slices.Contains(sinks, o.sink):
		return nil, nil, &exitError{code: exitBadUsage, err: fmt.Errorf("--sink %q: no flow goes to %s, so it has no sink (systems flows go to: %s)", o.sink, o.sink, list)}
	}
	topics, err := sink.Topics(cfg, o.sink)
	if err != nil {
		return nil, nil, err
	}
	if o.topic != "" {
		if !slices.Contains(topics, o.topic) {
			return nil, nil, &exitError{code: exitBadUsage, err: fmt.Errorf("--topic %q is not a topic sink %s reads (its topics: %s)", o.topic, o.sink, strings.Join(topics, ", "))}
		}
		topics = []string{o.topic}
	}
	return sys, topics, nil
}

// groupMembers describes the consumer group and returns its active
// members, as client id@host.
func groupMembers(ctx context.Context, client *kafka.Client, group string) ([]string, error) {
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, fmt.Errorf("describe consumer group %s: %w", group, err)
	}
	var out []string
	for _, gr := range resp.Groups {
		if gr.Error != nil {
			return nil, fmt.Errorf("describe consumer group %s: %w", group, gr.Error)
		}
		for _, m := range gr.Members {
			out = append(out, m.ClientID+"@"+strings.TrimPrefix(m.ClientHost, "/"))
		}
	}
	return out, nil
}

// replayPlan reads the partitions of topics and their offsets, and computes
// where each one moves to. Notes go to notes.
func replayPlan(ctx context.Context, client *kafka.Client, topics []string, o replayOptions, notes io.Writer) ([]replayRow, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	parts := map[string][]int{}
	for _, t := range meta.Topics {
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			continue
		}
		if t.Error != nil {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("topic %s: %w", t.Name, t.Error)}
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	var tps []sink.TopicPartition
	for _, topic := range topics {
		ids, ok := parts[topic]
		if !ok {
			fmt.Fprintf(notes, "note: topic %s does not exist yet: nothing to replay there\n", topic)
			continue
		}
		slices.Sort(ids)
		if o.partition >= 0 {
			if !slices.Contains(ids, o.partition) {
				return nil, &exitError{code: exitBadUsage, err: fmt.Errorf("--partition %d does not exist: topic %s has partitions 0-%d", o.partition, topic, len(ids)-1)}
			}
			ids = []int{o.partition}
		}
		for _, id := range ids {
			tps = append(tps, sink.TopicPartition{Topic: topic, Partition: id})
			reqs := []kafka.OffsetRequest{kafka.FirstOffsetOf(id), kafka.LastOffsetOf(id)}
			if o.to.kind == "time" {
				reqs = append(reqs, kafka.TimeOffsetOf(id, o.to.at))
			}
			req.Topics[topic] = append(req.Topics[topic], reqs...)
		}
	}
	if len(tps) == 0 {
		return nil, nil
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	found := map[sink.TopicPartition]kafka.PartitionOffsets{}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, &exitError{code: exitFailed, err: fmt.Errorf("offsets of %s[%d]: %w", topic, p.Partition, p.Error)}
			}
			found[sink.TopicPartition{Topic: topic, Partition: p.Partition}] = p
		}
	}
	rows := make([]replayRow, 0, len(tps))
	for _, tp := range tps {
		p, ok := found[tp]
		if !ok {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("no offsets from Kafka for %s[%d]", tp.Topic, tp.Partition)}
		}
		r := replayRow{tp: tp, earliest: p.FirstOffset, latest: p.LastOffset}
		switch o.to.kind {
		case "earliest":
			r.next = r.earliest
		case "latest":
			r.next = r.latest
		case "offset":
			r.next = min(max(o.to.offset, r.earliest), r.latest)
			if r.next != o.to.offset {
				fmt.Fprintf(notes, "note: %s[%d]: offset %d is outside [%d, %d] (earliest, latest): using %d\n",
					tp.Topic, tp.Partition, o.to.offset, r.earliest, r.latest, r.next)
			}
		case "time":
			r.next = r.latest // no record at or after the time
			for off := range p.Offsets {
				if off >= 0 {
					r.next = min(max(off, r.earliest), r.latest)
				}
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// openTarget connects to the target database of sink name.
func openTarget(ctx context.Context, cfg *mapping.Config, name string, log *slog.Logger) (sink.Target, error) {
	sys := cfg.Systems[name]
	opts := sinkpg.Options{System: name, Sink: name, DSN: sys.DSN, CheckpointTable: sys.CheckpointTable, MaxConns: sys.Sink.Connections, Logger: log}
	var target sink.Target
	var err error
	switch sys.Kind {
	case mapping.KindPostgres:
		target, err = sinkpg.New(ctx, opts)
	case mapping.KindMySQL:
		target, err = sinkmy.New(ctx, opts)
	default:
		return nil, fmt.Errorf("sink %s: kind %q has no sink", name, sys.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("sink %s: connect to the target: %w", name, err)
	}
	return target, nil
}

// setCheckpoints writes cps in one transaction: every partition moves, or
// none.
func setCheckpoints(ctx context.Context, target sink.Target, cps []sink.Checkpoint) error {
	tx, err := target.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.Checkpoint(ctx, cps); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func printReplay(w io.Writer, rows []replayRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOLD OFFSET\tNEW OFFSET")
	for _, r := range rows {
		old := strconv.FormatInt(r.old(), 10)
		if r.stored == nil {
			old += " (none stored)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", r.tp.Topic, r.tp.Partition, old, r.next)
	}
	tw.Flush()
}

// replaySummary says what the next run of the sink does differently.
func replaySummary(name string, rows []replayRow, dryRun bool) string {
	var again, skip int64
	for _, r := range rows {
		if d := r.old() - r.next; d > 0 {
			again += d
		} else {
			skip -= d
		}
	}
	verb, reads, skips := "moved", "re-reads", "skips"
	if dryRun {
		verb, reads, skips = "would move", "would re-read", "would skip"
	}
	s := fmt.Sprintf("%d partition(s) of sink %s %s; its next run %s %d event(s)", len(rows), name, verb, reads, again)
	if skip > 0 {
		s += fmt.Sprintf(" and %s %d it has not read yet", skips, skip)
	}
	if len(rows) == 0 {
		s = fmt.Sprintf("sink %s: no partition to move", name)
	}
	return s + "."
}
