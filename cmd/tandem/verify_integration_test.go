//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestIntegrationVerify: a shop on MariaDB and an ERP on PostgreSQL with
// the same customers and orders, written directly (the ERP's orders refer
// to their partner, its totals at another scale): verify finds no drift.
// Then a customer missing in the ERP, an order extra there and two values
// that differ: verify exits 1 and lists each with its key and values.
func TestIntegrationVerify(t *testing.T) {
	my, pg := myDB(t), pgConn(t)
	pairTables(t, my, pg, "vf_", 100)
	t.Cleanup(func() {
		myMust(t, my, `DROP TABLE IF EXISTS tandem.vf_customer, tandem.vf_order, tandem.vf_ping`)
		mustExec(t, pg, `DROP TABLE IF EXISTS vf_sale_order, vf_partner`)
	})
	shopEntities, erpEntities := pairEntities("vf_", "create: false")
	cfg := "systems:\n" + mysqlSystem("shop", []string{"tandem.vf_ping"}, "") + shopEntities + pgSystem("erp", "") + erpEntities + verifyFlowsYAML + stackTail()
	path := tempConfig(t, cfg)

	myMust(t, my, `INSERT INTO tandem.vf_customer (email, last_name) VALUES ('ann@example.com', 'Lee'), ('bob@example.com', 'Bee')`,
		`INSERT INTO tandem.vf_order (id, billing_email, status, total_amount, currency) VALUES
			(1001, 'ann@example.com', 'wc-processing', 19.90, 'EUR'), (1002, 'bob@example.com', 'wc-completed', 5, 'EUR')`)
	mustExec(t, pg, `INSERT INTO vf_partner (email, name) VALUES ('ann@example.com', 'Lee'), ('bob@example.com', 'Bee')`,
		`INSERT INTO vf_partner (email, name, type) VALUES ('acme@example.com', 'Acme', 'company')`, // not a customer
		`INSERT INTO vf_sale_order (client_order_ref, partner_id, state, amount_total, currency)
			SELECT '1001', id, 'sale', 19.9, 'EUR' FROM vf_partner WHERE email = 'ann@example.com'`,
		`INSERT INTO vf_sale_order (client_order_ref, partner_id, state, amount_total, currency)
			SELECT '1002', id, 'done', 5.00, 'EUR' FROM vf_partner WHERE email = 'bob@example.com'`)

	out, code := run(t, "verify", "--config", path)
	if code != exitOK {
		t.Fatalf("equal sides: exit %d:\n%s", code, out)
	}
	wantLines(t, out,
		"customer shop erp 2 2 2 0 0 0",
		"order shop erp 4 2 2 0 0 0",
		"order erp shop 1 2 2 0 - -",
		"No drift: 3 flows, 6 instances compared, all equal.")

	// a customer the ERP lacks, an order only the ERP has, a name and a
	// total that differ
	myMust(t, my, `INSERT INTO tandem.vf_customer (email, last_name) VALUES ('cy@example.com', 'Cy')`)
	mustExec(t, pg, `UPDATE vf_partner SET name = 'Bea' WHERE email = 'bob@example.com'`,
		`UPDATE vf_sale_order SET amount_total = 20 WHERE client_order_ref = '1001'`,
		`INSERT INTO vf_sale_order (client_order_ref, partner_id, state, amount_total, currency)
			SELECT '1003', id, 'draft', 7, 'EUR' FROM vf_partner WHERE email = 'ann@example.com'`)
	out, code = run(t, "verify", "--config", path)
	if code != exitFailed {
		t.Fatalf("drift: exit %d:\n%s", code, out)
	}
	wantLines(t, out,
		"customer shop erp 2 2 1 1 1 0",
		"order shop erp 4 2 1 1 0 1",
		"order erp shop 1 2 2 0 - -",
		"order erp -> shop: shop never creates order rows (create: false): 1 on one side only, not compared",
		`different customer shop erp email=bob@example.com last_name "Bee" "Bea"`,
		`missing customer shop erp email=cy@example.com - {email="cy@example.com", last_name="Cy"} (none)`,
		`different order shop erp number=1001 total 19.9 20`,
		`extra order shop erp number=1003 - (none) {currency="EUR", customer_email="ann@example.com", number="1003", total=7}`,
		"Drift in 2 of 3 flows: 1 missing, 1 extra, 2 different (4 differences).")

	// one entity, as JSON
	out, code = run(t, "verify", "--config", path, "--entity", "customer", "--format", "json", "--limit", "1")
	var doc struct {
		Drift       bool             `json:"drift"`
		Total       int              `json:"total_differences"`
		Flows       []flowResult     `json:"flows"`
		Differences []map[string]any `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitFailed {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	if !doc.Drift || doc.Total != 2 || len(doc.Flows) != 1 || doc.Flows[0].Entity != "customer" || len(doc.Differences) != 1 ||
		fmt.Sprintf("%v %v %v", doc.Differences[0]["key"], doc.Differences[0]["from_value"], doc.Differences[0]["to_value"]) != "email=bob@example.com Bee Bea" {
		t.Errorf("json %+v", doc)
	}
	if strings.Contains(out, "acme@example.com") {
		t.Errorf("a company partner was compared as a customer:\n%s", out)
	}
}
