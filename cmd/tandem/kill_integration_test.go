//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// buildTandem builds the binary once per test run.
func buildTandem(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tandem")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type proc struct {
	cmd *exec.Cmd
	log *os.File
}

func startTandem(t testing.TB, bin, cfg, logPath string) *proc {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &proc{cmd: cmd, log: lf}
}

func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.log.Close()
}

func (p *proc) term(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tandem run after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("tandem run did not stop within 60s of SIGTERM")
	}
	p.log.Close()
}

// killBackend is a source database for the kill test.
type killBackend struct {
	name  string
	setup func(t *testing.T) (cfg, topic string)
	exec  func(ctx context.Context) (loadConn, error)
}

// loadConn runs one writer's statements.
type loadConn interface {
	begin(ctx context.Context) error
	exec(ctx context.Context, q string, args ...any) error
	commit(ctx context.Context) error
	close()
}

type pgLoad struct {
	c  *pgx.Conn
	tx pgx.Tx
}

func (p *pgLoad) begin(ctx context.Context) (err error) { p.tx, err = p.c.Begin(ctx); return err }
func (p *pgLoad) exec(ctx context.Context, q string, args ...any) error {
	_, err := p.tx.Exec(ctx, q, args...)
	return err
}
func (p *pgLoad) commit(ctx context.Context) error { return p.tx.Commit(ctx) }
func (p *pgLoad) close()                           { p.c.Close(context.Background()) }

type myLoad struct {
	db *sql.DB
	tx *sql.Tx
}

func (m *myLoad) begin(ctx context.Context) (err error) {
	m.tx, err = m.db.BeginTx(ctx, nil)
	return err
}
func (m *myLoad) exec(ctx context.Context, q string, args ...any) error {
	_, err := m.tx.ExecContext(ctx, q, args...)
	return err
}
func (m *myLoad) commit(ctx context.Context) error { return m.tx.Commit() }
func (m *myLoad) close()                           { m.db.Close() }

// TestIntegrationKill9LosesNothing runs the capture as a real process under
// a write load, kills it with SIGKILL at random points, restarts it, and
// checks that every committed row version is on Kafka at least once. It
// runs against PostgreSQL and MariaDB.
func TestIntegrationKill9LosesNothing(t *testing.T) {
	bin := buildTandem(t)
	backends := []killBackend{
		{
			name: "postgres",
			setup: func(t *testing.T) (string, string) {
				conn := pgConn(t)
				system := uniqueSystem("kill")
				cleanupSystem(t, conn, system)
				mustExec(t, conn, `DROP TABLE IF EXISTS run_kill`,
					`CREATE TABLE run_kill (id int PRIMARY KEY, version int NOT NULL, payload text)`)
				return captureConfig(system, []string{"public.run_kill"}, ""), "tandem." + system + ".public.run_kill"
			},
			exec: func(ctx context.Context) (loadConn, error) {
				c, err := pgx.Connect(ctx, testenv.PostgresDSN())
				return &pgLoad{c: c}, err
			},
		},
		{
			name: "mariadb",
			setup: func(t *testing.T) (string, string) {
				db := myDB(t)
				system := uniqueSystem("mykill")
				myMust(t, db, `DROP TABLE IF EXISTS tandem.run_kill`,
					`CREATE TABLE tandem.run_kill (id INT PRIMARY KEY, version INT NOT NULL, payload TEXT)`)
				return mysqlConfig(system, testenv.MySQLDSN(), []string{"tandem.run_kill"}, ""), "tandem." + system + ".tandem.run_kill"
			},
			exec: func(ctx context.Context) (loadConn, error) {
				db, err := sql.Open("mysql", testenv.MySQLDSN())
				if err == nil {
					db.SetMaxOpenConns(1)
				}
				return &myLoad{db: db}, err
			},
		},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { killTest(t, bin, b) })
	}
}

func killTest(t *testing.T, bin string, b killBackend) {
	cfgText, topic := b.setup(t)
	cfg := tempConfig(t, cfgText)
	logPath := filepath.Join(t.TempDir(), "tandem.log")
	// Versions committed before the capture's starting point are covered by
	// the snapshot, which reads each row's latest version only; so the load
	// starts once the first run streams.
	p := startTandem(t, bin, cfg, logPath)
	// The transactions topic appears with the snapshot's first chunk, which
	// is read after the capture's starting point is fixed.
	waitTopicExists(t, "tandem."+strings.Split(topic, ".")[1]+".transactions", 60*time.Second)
	time.Sleep(time.Second)

	type rv struct{ id, version int32 }
	var mu sync.Mutex
	committed := map[rv]bool{}
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			c, err := b.exec(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.close()
			versions := map[int32]int32{}
			next := int32(w*1_000_000 + 1)
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				if err := c.begin(ctx); err != nil {
					t.Error(err)
					return
				}
				var done []rv
				for i := 0; i < 1+rand.IntN(5); i++ {
					if len(versions) > 0 && rand.IntN(3) == 0 {
						for id := range versions { // an update of some row
							versions[id]++
							if err := c.exec(ctx, "UPDATE run_kill SET version = "+fmt.Sprint(versions[id])+", payload = 'u' WHERE id = "+fmt.Sprint(id)); err != nil {
								t.Error(err)
								return
							}
							done = append(done, rv{id, versions[id]})
							break
						}
						continue
					}
					id := next
					next++
					versions[id] = 1
					if err := c.exec(ctx, "INSERT INTO run_kill VALUES ("+fmt.Sprint(id)+", 1, 'i')"); err != nil {
						t.Error(err)
						return
					}
					done = append(done, rv{id, 1})
				}
				if err := c.commit(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range done {
					committed[d] = true
				}
				mu.Unlock()
			}
		}(w)
	}

	for kill := 1; kill <= 6; kill++ {
		time.Sleep(time.Duration(1500+rand.IntN(2500)) * time.Millisecond)
		p.kill9()
		t.Logf("kill -9 #%d", kill)
		p = startTandem(t, bin, cfg, logPath)
	}
	close(stopLoad)
	wg.Wait()
	mu.Lock()
	want := len(committed)
	mu.Unlock()
	dec := decoder()
	var seen map[rv]int
	deadline := time.Now().Add(3 * time.Minute)
	var missing []rv
	for {
		if testenv.TopicSize(t, topic) >= int64(want) {
			seen = map[rv]int{}
			for _, m := range testenv.ReadTopic(t, topic) {
				ev, _, err := dec.Decode(context.Background(), m.Value)
				if err != nil {
					t.Fatal(err)
				}
				after, _ := ev["after"].(map[string]any)
				if after == nil {
					continue
				}
				seen[rv{after["id"].(int32), after["version"].(int32)}]++
			}
			missing = missing[:0]
			for k := range committed {
				if seen[k] == 0 {
					missing = append(missing, k)
				}
			}
			if len(missing) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%d of %d committed row versions are not on Kafka after 3 minutes, e.g. %v\nlog tail:\n%s",
				len(missing), want, missing[:min(5, len(missing))], tail(string(log), 3000))
		}
		time.Sleep(time.Second)
	}
	p.term(t)
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	t.Logf("%d committed row versions, all on Kafka; %d delivered more than once (allowed: at least once)", want, dups)
	if want < 500 {
		t.Errorf("only %d row versions were written: the load was too light to mean anything", want)
	}
}

// waitTopicExists waits until topic exists (the capture created it).
func waitTopicExists(t *testing.T, topic string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for testenv.TopicSize(t, topic) < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("topic %s not created within %s", topic, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
