//go:build integration

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// buildTandem builds the binary once per test run.
func buildTandem(t *testing.T) string {
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

func startTandem(t *testing.T, bin, cfg, logPath string) *proc {
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

// TestIntegrationKill9LosesNothing runs the capture as a real process under
// a write load, kills it with SIGKILL at random points, restarts it, and
// checks that every committed row version is on Kafka at least once.
func TestIntegrationKill9LosesNothing(t *testing.T) {
	conn := pgConn(t)
	system := uniqueSystem("kill")
	cleanupSystem(t, conn, system)
	mustExec(t, conn, `DROP TABLE IF EXISTS run_kill`,
		`CREATE TABLE run_kill (id int PRIMARY KEY, version int NOT NULL, payload text)`)
	bin := buildTandem(t)
	cfg := tempConfig(t, captureConfig(system, []string{"public.run_kill"}, ""))
	logPath := filepath.Join(t.TempDir(), "tandem.log")

	// Versions committed before the slot's consistent point are covered by
	// the snapshot, which reads each row's latest version only; so the load
	// starts once the first run streams.
	p := startTandem(t, bin, cfg, logPath)
	waitStreaming(t, conn, system)

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
			c, err := pgx.Connect(ctx, testenv.PostgresDSN())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(ctx)
			versions := map[int32]int32{}
			next := int32(w*1_000_000 + 1)
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				tx, err := c.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				var done []rv
				for i := 0; i < 1+rand.IntN(5); i++ {
					if len(versions) > 0 && rand.IntN(3) == 0 {
						for id := range versions { // an update of some row
							versions[id]++
							if _, err := tx.Exec(ctx, "UPDATE run_kill SET version = $2, payload = md5(random()::text) WHERE id = $1", id, versions[id]); err != nil {
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
					if _, err := tx.Exec(ctx, "INSERT INTO run_kill VALUES ($1, 1, md5(random()::text))", id); err != nil {
						t.Error(err)
						return
					}
					done = append(done, rv{id, 1})
				}
				if err := tx.Commit(ctx); err != nil {
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
	topic := "tandem." + system + ".public.run_kill"
	// wait until the capture has caught up: every committed version seen
	dec := decoder()
	seen := map[rv]int{}
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
	if fmt.Sprint(len(seen)) == "" {
		t.Fatal()
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
