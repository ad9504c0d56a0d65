//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/internal/testenv"
)

// TestIntegrationBidirectionalNoLoops: both systems capture and sink at
// once. 1,000 updates on each side: the shop changes last names (its own
// field) of some customers, the ERP tax ids (its own) of others, and both
// change the phone (owned by both: the last writer wins) of a third set.
// Afterwards both sides are equal, the event counts stop growing, and the
// conflicts topic holds decisions for the overlapping customers only.
func TestIntegrationBidirectionalNoLoops(t *testing.T) {
	const perSet = 60
	shop, erp := uniqueSystem("bshop"), uniqueSystem("berp")
	my, pg := myDB(t), pgConn(t)
	cleanupSystem(t, pg, erp)
	cleanupOrigins(t, erp)
	myMust(t, my, `DROP TABLE IF EXISTS tandem.bx_customer`,
		`CREATE TABLE tandem.bx_customer (customer_id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL, last_name VARCHAR(100),
			phone VARCHAR(40), tax_id VARCHAR(40), updated_at DATETIME(6) NOT NULL, UNIQUE KEY email (email))`)
	mustExec(t, pg, `DROP TABLE IF EXISTS bx_partner`,
		`CREATE TABLE bx_partner (id serial PRIMARY KEY, email text, name text, phone text, vat text, write_date timestamp(6))`,
		`ALTER TABLE bx_partner REPLICA IDENTITY FULL`, `CREATE INDEX ON bx_partner (email)`)
	entity := func(table, id, lastName, taxID, updated string) string {
		return fmt.Sprintf(`    entities:
      customer:
        table: %s
        id: %s
        fields:
          email: email
          last_name: %s
          phone: phone
          tax_id: %s
          updated_at: {column: %s, timezone: UTC}
`, table, id, lastName, taxID, updated)
	}
	cfg := "systems:\n" + mysqlSystem(shop, nil, "") + entity("tandem.bx_customer", "customer_id", "last_name", "tax_id", "updated_at") +
		pgSystem(erp, "") + entity("public.bx_partner", "id", "name", "vat", "write_date") + fmt.Sprintf(`ownership:
  customer: {owner: %[1]s, fields: {tax_id: %[2]s}, both: [phone, updated_at]}
flows:
  - {entity: customer, from: %[1]s, to: %[2]s}
  - {entity: customer, from: %[2]s, to: %[1]s, fields: [tax_id, phone, updated_at]}
`, shop, erp) + stackTail()
	stop := startRun(t, cfg)
	waitStreaming(t, pg, erp)

	// seed: 3 sets of customers in the shop, synced to the ERP
	for i := range 3 * perSet {
		myMust(t, my, fmt.Sprintf(`INSERT INTO tandem.bx_customer (email, last_name, phone, updated_at) VALUES ('c%d@example.com', 'Seed', '0', NOW(6))`, i))
	}
	waitUntil(t, "the seed reached the ERP", 2*time.Minute, func() bool {
		return pgString(t, pg, `SELECT count(*)::text FROM bx_partner`) == fmt.Sprint(3*perSet)
	})

	// 1,000 updates on each side, at once
	const updates = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { // the shop: last names of set 0, phones of set 2
		defer wg.Done()
		for i := range updates {
			var q string
			if i%2 == 0 {
				q = fmt.Sprintf(`UPDATE tandem.bx_customer SET last_name = 'shop-%d', updated_at = NOW(6) WHERE email = 'c%d@example.com'`, i, rand.IntN(perSet))
			} else {
				q = fmt.Sprintf(`UPDATE tandem.bx_customer SET phone = 'shop-%d', updated_at = NOW(6) WHERE email = 'c%d@example.com'`, i, 2*perSet+rand.IntN(perSet))
			}
			if err := retryDeadlock(func() error { _, err := my.Exec(q); return err }); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // the ERP: tax ids of set 1, phones of set 2
		defer wg.Done()
		conn := pgConn(t)
		for i := range updates {
			var q string
			if i%2 == 0 {
				q = fmt.Sprintf(`UPDATE bx_partner SET vat = 'erp-%d', write_date = clock_timestamp() AT TIME ZONE 'UTC' WHERE email = 'c%d@example.com'`, i, perSet+rand.IntN(perSet))
			} else {
				q = fmt.Sprintf(`UPDATE bx_partner SET phone = 'erp-%d', write_date = clock_timestamp() AT TIME ZONE 'UTC' WHERE email = 'c%d@example.com'`, i, 2*perSet+rand.IntN(perSet))
			}
			if err := retryDeadlock(func() error { _, err := conn.Exec(context.Background(), q); return err }); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// both sides converge
	shopRows := func() string {
		rows, err := my.Query(`SELECT email, COALESCE(last_name,''), COALESCE(phone,''), COALESCE(tax_id,'') FROM tandem.bx_customer ORDER BY email`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var e, l, p, x string
			if err := rows.Scan(&e, &l, &p, &x); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s|%s|%s|%s\n", e, l, p, x)
		}
		return sortLines(b.String())
	}
	erpRows := func() string {
		return sortLines(pgString(t, pg, `SELECT string_agg(email || '|' || coalesce(name,'') || '|' || coalesce(phone,'') || '|' || coalesce(vat,''), E'\n') || E'\n' FROM bx_partner`))
	}
	deadline := time.Now().Add(3 * time.Minute)
	for shopRows() != erpRows() {
		if time.Now().After(deadline) {
			t.Fatalf("the sides differ after 3 minutes:\n%s", diffLines(shopRows(), erpRows()))
		}
		time.Sleep(time.Second)
	}
	// the event counts stop growing: nothing loops
	topics := []string{"tandem." + shop + ".customer", "tandem." + erp + ".customer"}
	sizes := func() string {
		return fmt.Sprint(testenv.TopicSize(t, topics[0]), testenv.TopicSize(t, topics[1]))
	}
	before := sizes()
	time.Sleep(10 * time.Second)
	if after := sizes(); after != before {
		t.Errorf("events kept coming for 10s after quiescence: %s -> %s", before, after)
	}
	if shopRows() != erpRows() {
		t.Errorf("the sides drifted apart again")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("events: %s (shop, erp) for %d updates on each side", sizes(), updates)

	// conflicts: only for customers both sides changed, with the decision
	overlap := map[string]bool{}
	for i := range perSet {
		overlap[fmt.Sprintf("c%d@example.com", 2*perSet+i)] = true
	}
	n := 0
	for _, m := range testenv.ReadTopic(t, "tandem.conflicts") {
		var c map[string]any
		if json.Unmarshal(m.Value, &c) != nil || (c["sink"] != shop && c["sink"] != erp) {
			continue
		}
		n++
		key, _ := c["key"].(map[string]any)
		if !overlap[fmt.Sprint(key["email"])] {
			t.Errorf("conflict on a customer only one side changed: %v", c)
		}
		if d := fmt.Sprint(c["decision"]); !strings.HasPrefix(d, "last writer wins") {
			t.Errorf("conflict decision %q", d)
		}
	}
	if n == 0 {
		t.Errorf("no conflict logged for %d concurrent phone changes", updates)
	}
	t.Logf("%d conflicts logged", n)
}

// sortLines sorts the lines of s (the databases' collations differ).
func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// retryDeadlock runs fn again after a deadlock, as applications do.
func retryDeadlock(fn func() error) error {
	for i := 0; ; i++ {
		err := fn()
		if err == nil || i == 5 || !(strings.Contains(err.Error(), "Deadlock") || strings.Contains(err.Error(), "deadlock")) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// diffLines shows the lines of a and b that differ.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "  shop %q\n  erp  %q\n", x, y)
		}
	}
	return out.String()
}
