//go:build integration

package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/testenv"
	sinkpg "github.com/tandem-sync/tandem/sink/postgres"
)

// The sink under kill -9 and a stopped target. Each test syncs a customer
// table from one database to the other with two real processes, tandem run
// --role capture (the source system) and tandem run --role sink (the target
// system), and checks row for row that the target ends up equal to the
// source. The target table has an audit trigger that records every INSERT
// and UPDATE that executes, which shows whether an event was applied twice
// or an old one applied after a newer one.

// kxSide is one database of these tests and its customer table.
type kxSide struct {
	kind  string // postgres or mysql
	dsn   string
	table string // qualified: public.kx_... or tandem.kx_...
	db    *sql.DB
}

func openSide(t *testing.T, kind, dsn, name string) *kxSide {
	t.Helper()
	s := &kxSide{kind: kind, dsn: dsn, table: "public." + name}
	driver := "pgx"
	if kind == "mysql" {
		s.table, driver = "tandem."+name, "mysql"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	s.db = db
	return s
}

func (s *kxSide) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// create makes the customer table, and with audit the audit table and its
// triggers; the test's end drops them.
func (s *kxSide) create(t *testing.T, audit bool) {
	t.Helper()
	a := s.table + "_audit"
	if s.kind == "postgres" {
		fn := s.table + "_audit_fn"
		drop := []string{`DROP TABLE IF EXISTS ` + s.table + `, ` + a + ` CASCADE`, `DROP FUNCTION IF EXISTS ` + fn + `()`}
		s.exec(t, drop...)
		t.Cleanup(func() {
			for _, q := range drop {
				s.db.Exec(q)
			}
		})
		s.exec(t, `CREATE TABLE `+s.table+` (id bigserial PRIMARY KEY, email varchar(100) NOT NULL UNIQUE, first_name varchar(100),
			last_name varchar(100), phone varchar(40), external_id varchar(20), is_company boolean, created_at timestamptz)`)
		if audit {
			s.exec(t, `CREATE TABLE `+a+` (id bigserial PRIMARY KEY, email text NOT NULL, rev text, op text NOT NULL)`,
				`CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
					INSERT INTO `+a+` (email, rev, op) VALUES (NEW.email, NEW.external_id, TG_OP); RETURN NULL; END$$`,
				`CREATE TRIGGER kx_audit AFTER INSERT OR UPDATE ON `+s.table+` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`)
		}
		return
	}
	drop := `DROP TABLE IF EXISTS ` + s.table + `, ` + a // and the triggers
	s.exec(t, drop)
	t.Cleanup(func() { s.db.Exec(drop) })
	s.exec(t, `CREATE TABLE `+s.table+` (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, first_name VARCHAR(100),
		last_name VARCHAR(100), phone VARCHAR(40), external_id VARCHAR(20), is_company TINYINT(1), created_at DATETIME(6))`)
	if audit {
		s.exec(t, `CREATE TABLE `+a+` (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, rev VARCHAR(20), op VARCHAR(10) NOT NULL)`)
		for _, op := range []string{"INSERT", "UPDATE"} {
			s.exec(t, `CREATE TRIGGER `+s.table+`_`+strings.ToLower(op[:1])+` AFTER `+op+` ON `+s.table+
				` FOR EACH ROW INSERT INTO `+a+` (email, rev, op) VALUES (NEW.email, NEW.external_id, '`+op+`')`)
		}
	}
}

// rows returns every row of the customer table as email -> its other
// fields as text, NULL as ~, times in UTC to the microsecond.
func (s *kxSide) rows() (map[string]string, error) {
	q := `SELECT email, concat_ws('|', coalesce(first_name, '~'), coalesce(last_name, '~'), coalesce(phone, '~'),
		coalesce(external_id, '~'), coalesce(is_company::int::text, '~'),
		coalesce(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '~')) FROM ` + s.table
	if s.kind == "mysql" {
		q = `SELECT email, CONCAT_WS('|', COALESCE(first_name, '~'), COALESCE(last_name, '~'), COALESCE(phone, '~'),
			COALESCE(external_id, '~'), COALESCE(CAST(is_company AS CHAR), '~'),
			COALESCE(DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f'), '~')) FROM ` + s.table
	}
	out := map[string]string{}
	rs, err := s.db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var email, rest string
		if err := rs.Scan(&email, &rest); err != nil {
			return nil, err
		}
		out[email] = rest
	}
	return out, rs.Err()
}

type auditRow struct{ email, rev, op string }

// audit returns the audit table in the order the rows were written.
func (s *kxSide) audit(t *testing.T) []auditRow {
	t.Helper()
	rs, err := s.db.Query(`SELECT email, coalesce(rev, '~'), op FROM ` + s.table + `_audit ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []auditRow
	for rs.Next() {
		var a auditRow
		if err := rs.Scan(&a.email, &a.rev, &a.op); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// timeLit is a UTC timestamp literal for the side's created_at column.
func (s *kxSide) timeLit(ts time.Time) string {
	lit := "'" + ts.UTC().Format("2006-01-02 15:04:05.000000")
	if s.kind == "postgres" {
		lit += "+00"
	}
	return lit + "'"
}

// kxSystem is the systems entry of a system that maps the customer entity
// onto side's table.
func kxSystem(name string, s *kxSide) string {
	capture := "      heartbeat: 1s\n"
	if s.kind == "mysql" {
		capture = fmt.Sprintf("      server_id: %d\n", 6000+rand.IntN(3000)) + capture
	}
	return fmt.Sprintf(`  %s:
    kind: %s
    dsn: %q
    capture:
%s    entities:
      customer:
        table: %s
        id: id
        fields:
          email: email
          first_name: first_name
          last_name: last_name
          phone: phone
          external_id: external_id
          is_company: is_company
          created_at: {column: created_at, timezone: UTC}
`, name, s.kind, s.dsn, capture, s.table)
}

// kxRun is a source and a target system kept in step by two tandem
// processes, each started through a script that adds its role to
// startTandem's "tandem run --config <file>".
type kxRun struct {
	t                *testing.T
	src, dst         *kxSide
	srcSys, dstSys   string
	capBin, sinkBin  string // the scripts
	capCfg, sinkCfg  string
	capLog, sinkLog  string
	metrics          string // the sink's http address
	capture, sink    *proc
	stopped          bool
	sinkOutcomes     map[string]float64 // tandem_sink_events_total of the sink runs that ended
	capKills, sKills int
}

// startKx makes the customer tables (the target's with the audit), writes
// a seed row, starts the capture of the source system and the sink of the
// target system, and waits until the seed row is in the target.
func startKx(t *testing.T, bin string, src, dst *kxSide) *kxRun {
	t.Helper()
	r := &kxRun{t: t, src: src, dst: dst, srcSys: uniqueSystem("kxsrc"), dstSys: uniqueSystem("kxdst"), sinkOutcomes: map[string]float64{}}
	src.create(t, false)
	dst.create(t, true)
	if src.kind == "postgres" {
		cleanupSystem(t, pgConn(t), r.srcSys) // its slot and publication
	}
	group := "tandem-sink-" + r.dstSys
	t.Cleanup(func() { dst.db.Exec("DELETE FROM tandem_checkpoint WHERE consumer = '" + group + "'") })
	if dst.kind == "postgres" {
		t.Cleanup(func() { // after the sink stopped (cleanups run last first)
			if err := sinkpg.DropOrigins(context.Background(), config.Secret(dst.dsn), r.dstSys); err != nil {
				t.Errorf("drop the sink's replication origins: %v", err)
			}
		})
	}
	src.exec(t, `INSERT INTO `+src.table+` (email, first_name, last_name, phone, external_id, is_company, created_at)
		VALUES ('seed@example.com', 'Seed', 'Row', NULL, '0', FALSE, `+src.timeLit(time.Now())+`)`)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.metrics = l.Addr().String()
	l.Close()
	body := "systems:\n" + kxSystem(r.srcSys, src) + kxSystem(r.dstSys, dst) + fmt.Sprintf(`ownership:
  customer: {owner: %[1]s}
flows:
  - {entity: customer, from: %[1]s, to: %[2]s}
kafka:
  brokers: [%[3]q]
  partitions: 3
schema_registry:
  url: %[4]q
log:
  level: warn
`, r.srcSys, r.dstSys, testenv.KafkaBroker(), testenv.RegistryURL())
	r.capCfg = tempConfig(t, body+"http:\n  listen: \"\"\n")
	r.sinkCfg = tempConfig(t, body+fmt.Sprintf("http:\n  listen: %q\n", r.metrics))
	dir := t.TempDir()
	r.capBin = roleScript(t, bin, filepath.Join(dir, "capture.sh"), "--role", "capture", "--system", r.srcSys)
	r.sinkBin = roleScript(t, bin, filepath.Join(dir, "sink.sh"), "--role", "sink", "--system", r.dstSys)
	r.capLog, r.sinkLog = filepath.Join(dir, "capture.log"), filepath.Join(dir, "sink.log")
	r.capture = startTandem(t, r.capBin, r.capCfg, r.capLog)
	r.sink = startTandem(t, r.sinkBin, r.sinkCfg, r.sinkLog)
	t.Cleanup(func() {
		if !r.stopped {
			r.capture.kill9()
			r.sink.kill9()
		}
	})
	waitUntil(t, "the seed row reached the target", 2*time.Minute, func() bool {
		rows, _ := dst.rows()
		return rows["seed@example.com"] != ""
	})
	return r
}

// roleScript writes a script that runs bin with the arguments it is given
// and then args; exec keeps the pid, so that a kill -9 reaches tandem.
func roleScript(t *testing.T, bin, path string, args ...string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexec '"+bin+"' \"$@\" "+strings.Join(args, " ")+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// alive reports whether p still runs (a process that exited is a zombie
// until kill9 or term reaps it).
func alive(p *proc) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(st), ')')
	return i > 0 && i+2 < len(st) && st[i+2] != 'Z'
}

// checkAlive reports a process that exited by itself, with its log tail,
// and starts it again, as a supervisor would, so that the test goes on to
// show whether anything was lost.
func (r *kxRun) checkAlive(what string) {
	for _, c := range []struct {
		name, bin, cfg, log string
		p                   **proc
	}{{"capture", r.capBin, r.capCfg, r.capLog, &r.capture}, {"sink", r.sinkBin, r.sinkCfg, r.sinkLog, &r.sink}} {
		if !alive(*c.p) {
			log, _ := os.ReadFile(c.log)
			r.t.Errorf("the %s process exited by itself (%s); log tail:\n%s", c.name, what, tail(string(log), 3000))
			(*c.p).kill9() // reaps it
			*c.p = startTandem(r.t, c.bin, c.cfg, c.log)
		}
	}
}

// scrape reads the running sink's tandem_sink_events_total by outcome;
// nil when the sink does not answer.
func (r *kxRun) scrape() map[string]float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + r.metrics + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "tandem_sink_events_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `outcome="`)
		outcome, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			out[outcome] += v
		}
	}
	return out
}

// killSink kills the sink with SIGKILL and starts it again. The killed
// member stays in the consumer group until its session times out (30 s,
// kafka-go's default, which the sink does not change), and the group does
// not rebalance before that; the test removes it at once, as the timeout
// would, so that the new process does not wait for it.
func (r *kxRun) killSink() {
	for k, v := range r.scrape() { // what this run counted, nearly up to the kill
		r.sinkOutcomes[k] += v
	}
	r.sink.kill9()
	r.sKills++
	evictGroup(r.t, "tandem-sink-"+r.dstSys)
	r.sink = startTandem(r.t, r.sinkBin, r.sinkCfg, r.sinkLog)
}

func (r *kxRun) killCapture() {
	r.capture.kill9()
	r.capKills++
	r.capture = startTandem(r.t, r.capBin, r.capCfg, r.capLog)
}

// stop ends both processes with SIGTERM, counting the sink's outcomes.
func (r *kxRun) stop() {
	for k, v := range r.scrape() {
		r.sinkOutcomes[k] += v
	}
	r.stopped = true
	r.capture.term(r.t)
	r.sink.term(r.t)
}

// evictGroup removes every member of a consumer group (LeaveGroup on their
// behalf).
func evictGroup(t *testing.T, group string) {
	t.Helper()
	evictGroupAt(t, testenv.KafkaBroker(), group)
}

// kxLoad writes to the source table from one goroutine: rows inserts,
// then updates of 1-5 rows a transaction, each setting the row's revision
// (external_id) to the next number, until events row changes are written,
// paced to take about over.
type kxLoad struct {
	inserts, updates, txs atomic.Int64
	done                  chan struct{}
	err                   error
}

func (r *kxRun) startLoad(rows, events int, over time.Duration) *kxLoad {
	l := &kxLoad{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = r.runLoad(l, rows, events, over)
	}()
	return l
}

func (r *kxRun) runLoad(l *kxLoad, rows, events int, over time.Duration) error {
	ctx := context.Background()
	var c loadConn = &myLoad{db: r.src.db}
	start := time.Now()
	rev := make([]int, 0, rows)
	email := func(i int) string { return fmt.Sprintf("kx%05d@example.com", i) }
	maybe := func(p int, v string) string {
		if rand.IntN(100) < p {
			return "NULL"
		}
		return "'" + v + "'"
	}
	for n := 0; n < events; {
		if ahead := time.Duration(float64(over) * float64(n) / float64(events)); time.Since(start) < ahead {
			time.Sleep(ahead - time.Since(start))
		}
		if err := c.begin(ctx); err != nil {
			return err
		}
		k := 1 + rand.IntN(5)
		if len(rev) < rows {
			k = min(k, rows-len(rev))
			var vals []string
			for range k {
				i := len(rev)
				rev = append(rev, 0)
				vals = append(vals, fmt.Sprintf("('%s', 'First%d', %s, %s, '0', %t, %s)", email(i), i, maybe(10, "Last"+strconv.Itoa(i)),
					maybe(30, fmt.Sprintf("+4930%07d", rand.IntN(1e7))), rand.IntN(4) == 0,
					r.src.timeLit(time.Now().Add(-time.Duration(rand.IntN(1e6))*time.Second))))
			}
			if err := c.exec(ctx, `INSERT INTO `+r.src.table+` (email, first_name, last_name, phone, external_id, is_company, created_at) VALUES `+
				strings.Join(vals, ", ")); err != nil {
				return err
			}
			l.inserts.Add(int64(k))
		} else {
			k = min(k, events-n)
			picked := map[int]bool{}
			for len(picked) < k {
				picked[rand.IntN(rows)] = true
			}
			for i := range picked {
				rev[i]++
				set := fmt.Sprintf("external_id = '%d', first_name = 'First%d-%d'", rev[i], i, rev[i])
				if rand.IntN(3) == 0 {
					set += ", phone = " + maybe(20, fmt.Sprintf("+4930%07d", rand.IntN(1e7)))
				}
				if rand.IntN(5) == 0 {
					set += ", is_company = NOT is_company"
				}
				if rand.IntN(5) == 0 {
					set += ", last_name = " + maybe(10, fmt.Sprintf("Last%d-%d", i, rev[i]))
				}
				if err := c.exec(ctx, `UPDATE `+r.src.table+` SET `+set+` WHERE email = '`+email(i)+`'`); err != nil {
					return err
				}
			}
			l.updates.Add(int64(k))
		}
		if err := c.commit(ctx); err != nil {
			return err
		}
		l.txs.Add(1)
		n += k
	}
	return nil
}

func (l *kxLoad) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// converge waits until the target equals the source and has stopped
// changing; it reports the difference when it does not within d.
func (r *kxRun) converge(d time.Duration) (time.Duration, bool) {
	t := r.t
	start := time.Now()
	var src, dst map[string]string
	var err error
	for {
		if src, err = r.src.rows(); err == nil {
			if dst, err = r.dst.rows(); err == nil && equalRows(src, dst) {
				// stopped changing: the same after another look
				n := len(r.dst.audit(t))
				time.Sleep(3 * time.Second)
				again, err := r.dst.rows()
				if err == nil && equalRows(src, again) && len(r.dst.audit(t)) == n {
					return time.Since(start), true
				}
				continue
			}
		}
		if time.Since(start) > d {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Errorf("read the tables: %v", err)
		return time.Since(start), false
	}
	var missing, extra, differ []string
	for k, v := range src {
		if w, ok := dst[k]; !ok {
			missing = append(missing, k)
		} else if w != v {
			differ = append(differ, fmt.Sprintf("%s: source %s, target %s", k, v, w))
		}
	}
	for k := range dst {
		if _, ok := src[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(differ)
	log, _ := os.ReadFile(r.sinkLog)
	t.Errorf("after %s the target (%d rows) does not equal the source (%d rows): %d missing (e.g. %v), %d extra (e.g. %v), %d differ, e.g.\n%s\nsink log tail:\n%s",
		d, len(dst), len(src), len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))],
		len(differ), strings.Join(differ[:min(5, len(differ))], "\n"), tail(string(log), 3000))
	return time.Since(start), false
}

func equalRows(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkAudit checks that no row version was applied twice and none after a
// newer one, and that each row's final revision (the source's) was applied.
// It returns the number of audit rows.
func (r *kxRun) checkAudit() int {
	t := r.t
	audit := r.dst.audit(t)
	seen := map[[2]string]int{}
	last := map[string]int{}
	var twice, back []string
	for _, a := range audit {
		k := [2]string{a.email, a.rev}
		if seen[k]++; seen[k] == 2 {
			twice = append(twice, a.email+" revision "+a.rev+" "+a.op)
		}
		n, _ := strconv.Atoi(a.rev)
		if p, ok := last[a.email]; ok && n <= p {
			back = append(back, fmt.Sprintf("%s revision %s %s after revision %d", a.email, a.rev, a.op, p))
		}
		last[a.email] = n
	}
	if len(twice) > 0 {
		t.Errorf("%d row versions were applied more than once, e.g. %v", len(twice), twice[:min(5, len(twice))])
	}
	if len(back) > 0 {
		t.Errorf("%d row versions were applied after a newer one, e.g. %v", len(back), back[:min(5, len(back))])
	}
	src, err := r.src.rows()
	if err != nil {
		t.Fatal(err)
	}
	var absent []string
	for email, row := range src {
		f := strings.Split(row, "|")
		if seen[[2]string{email, f[3]}] == 0 {
			absent = append(absent, email+" revision "+f[3])
		}
	}
	sort.Strings(absent)
	if len(absent) > 0 {
		t.Errorf("%d final revisions were never applied, e.g. %v", len(absent), absent[:min(5, len(absent))])
	}
	return len(audit)
}

// checkDLQ checks that the sink dead-lettered nothing.
func (r *kxRun) checkDLQ() {
	dlq := "tandem." + r.dstSys + ".dlq"
	if n := testenv.TopicSize(r.t, dlq); n > 0 {
		log, _ := os.ReadFile(r.sinkLog)
		r.t.Errorf("%d events went to the dead-letter topic %s; sink log tail:\n%s", n, dlq, tail(string(log), 3000))
	}
}

// logCount counts the lines of a log that contain s and returns the first.
func logCount(path, s string) (int, string) {
	b, _ := os.ReadFile(path)
	n, first := 0, ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			if n++; n == 1 {
				first = line
			}
		}
	}
	return n, first
}

// TestIntegrationSinkKill9ExactlyOnce syncs a customer table under a write
// load while the sink process is killed with SIGKILL at random points at
// least five times and the capture at least twice (whose restarts put
// duplicates on Kafka), in both directions. The target must end equal to
// the source, no row version may be applied twice or after a newer one.
func TestIntegrationSinkKill9ExactlyOnce(t *testing.T) {
	bin := buildTandem(t)
	const rows, events, over = 2000, 20000, 50 * time.Second
	for _, d := range []struct{ name, from, to, table string }{
		{"mariadb_to_postgres", "mysql", "postgres", "kx_m2p_customer"},
		{"postgres_to_mariadb", "postgres", "mysql", "kx_p2m_customer"},
	} {
		t.Run(d.name, func(t *testing.T) {
			began := time.Now()
			dsn := map[string]string{"postgres": testenv.PostgresDSN(), "mysql": testenv.MySQLDSN()}
			r := startKx(t, bin, openSide(t, d.from, dsn[d.from], d.table), openSide(t, d.to, dsn[d.to], d.table))
			load := r.startLoad(rows, events, over)
			// S kills the sink, C the capture; then the sink again every
			// few seconds while the load runs.
			plan := "SCSSCSS"
			for i := 0; ; i++ {
				time.Sleep(time.Duration(3000+rand.IntN(4000)) * time.Millisecond)
				what := byte('S')
				if i < len(plan) {
					what = plan[i]
				} else if load.finished() {
					break
				}
				r.checkAlive(fmt.Sprintf("before kill #%d", i+1))
				if what == 'C' {
					r.killCapture()
				} else {
					r.killSink()
				}
			}
			<-load.done
			if load.err != nil {
				t.Fatalf("load: %v", load.err)
			}
			loaded := time.Since(began)
			r.checkAlive("after the load")
			took, ok := r.converge(2 * time.Minute)
			r.checkAlive("at the end")
			r.stop()
			n := r.checkAudit()
			r.checkDLQ()
			written := load.inserts.Load() + load.updates.Load()
			onKafka := testenv.TopicSize(t, "tandem."+r.srcSys+".customer")
			t.Logf("%d events (%d inserts, %d updates in %d source transactions, plus the seed row); sink killed %d times, capture %d times",
				written, load.inserts.Load(), load.updates.Load(), load.txs.Load(), r.sKills, r.capKills)
			retries, _ := logCount(r.sinkLog, "transient error; retrying")
			t.Logf("Kafka holds %d events, %d more than written (republished by capture restarts); the sink counted %v (at least: counts up to each kill); %d audit rows; %d transient retries logged",
				onKafka, onKafka-written-1, r.sinkOutcomes, n, retries)
			t.Logf("setup and load %s; target equal to the source (converged=%t) %s after the load; total %s",
				loaded.Round(time.Second), ok, took.Round(time.Second), time.Since(began).Round(time.Second))
			if r.sKills < 5 || r.capKills < 2 {
				t.Errorf("only %d sink and %d capture kills", r.sKills, r.capKills)
			}
		})
	}
}

// TestIntegrationSinkSurvivesStoppedTarget stops the target database (an
// instance of its own) for 30 s while the source keeps changing: the sink
// must retry, dead-letter nothing, stay up, and bring the target level
// with the source once it is back.
func TestIntegrationSinkSurvivesStoppedTarget(t *testing.T) {
	bin := buildTandem(t)
	for _, d := range []struct {
		name, from, to, table, script string
		env                           []string
		dsn                           string
		rebalance                     bool
	}{
		{"postgres_target", "mysql", "postgres", "kx_stop_m2p", "postgres", []string{"INSTANCE=pg-sinkstop", "PG_PORT=55439"},
			"postgres://tandem:tandem@127.0.0.1:55439/tandem", false},
		{"mariadb_target", "postgres", "mysql", "kx_stop_p2m", "mariadb", []string{"INSTANCE=mariadb-sinkstop", "MARIADB_PORT=53309"},
			"tandem:tandem@tcp(127.0.0.1:53309)/tandem", false},
		// A consumer-group rebalance while the target is down, as a broker
		// restart, a second sink process, or a missed heartbeat causes: the
		// test removes the sink's member from its group, which makes it
		// join again under a new generation.
		{"postgres_target_rebalance", "mysql", "postgres", "kx_stop_m2p_rb", "postgres", []string{"INSTANCE=pg-sinkstop", "PG_PORT=55439"},
			"postgres://tandem:tandem@127.0.0.1:55439/tandem", true},
	} {
		t.Run(d.name, func(t *testing.T) {
			began := time.Now()
			testenv.StartInstance(t, d.script, d.env...)
			srcDSN := testenv.MySQLDSN()
			if d.from == "postgres" {
				srcDSN = testenv.PostgresDSN()
			}
			r := startKx(t, bin, openSide(t, d.from, srcDSN, d.table), openSide(t, d.to, d.dsn, d.table))
			load := r.startLoad(500, 6000, 50*time.Second)
			time.Sleep(8 * time.Second)
			instance(t, d.script, "down", d.env...)
			t.Logf("target stopped at %s", time.Since(began).Round(time.Second))
			if d.rebalance {
				time.Sleep(10 * time.Second)
				evictGroup(t, "tandem-sink-"+r.dstSys)
				t.Logf("the sink's consumer group rebalanced at %s", time.Since(began).Round(time.Second))
				time.Sleep(20 * time.Second)
			} else {
				time.Sleep(30 * time.Second)
			}
			instance(t, d.script, "up", d.env...)
			t.Logf("target started again at %s", time.Since(began).Round(time.Second))
			r.checkAlive("during the outage")
			<-load.done
			if load.err != nil {
				t.Fatalf("load: %v", load.err)
			}
			took, ok := r.converge(2 * time.Minute)
			r.checkAlive("after the load")
			r.stop()
			n := r.checkAudit()
			r.checkDLQ()
			retries, first := logCount(r.sinkLog, "transient error; retrying")
			if retries == 0 {
				t.Errorf("the sink logged no transient error: did it notice the outage?")
			}
			t.Logf("first retry: %s", tail(first, 400))
			t.Logf("%d events (%d inserts, %d updates); %d transient retries logged; sink counted %v; %d audit rows; target equal to the source (%t) %s after the load; total %s",
				load.inserts.Load()+load.updates.Load(), load.inserts.Load(), load.updates.Load(), retries, r.sinkOutcomes, n, ok,
				took.Round(time.Second), time.Since(began).Round(time.Second))
		})
	}
}

// instance runs deploy/local/<script>.sh verb for the instance env names.
func instance(t *testing.T, script, verb string, env ...string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(testenv.RepoRoot(t), "deploy", "local", script+".sh"), verb)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s %v: %v\n%s", script, verb, env, err, out)
	}
}
