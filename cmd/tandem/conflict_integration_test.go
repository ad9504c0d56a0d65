//go:build integration

package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/demo"
	"github.com/tandem-sync/tandem/internal/testenv"
)

// conflictRecord is a record of the conflicts topic.
type conflictRecord struct {
	Entity   string         `json:"entity"`
	Key      map[string]any `json:"key"`
	Field    string         `json:"field"`
	Sink     string         `json:"sink"`
	Decision string         `json:"decision"`
	Source   struct {
		System string `json:"system"`
		Value  any    `json:"value"`
	} `json:"source"`
	Target struct {
		System string `json:"system"`
		Value  any    `json:"value"`
	} `json:"target"`
}

// both runs the two edits at once, each in its own connection, as two
// applications would.
func both(t *testing.T, shop, erp func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, f := range []func() error{shop, erp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	for i, side := range []string{"shop", "ERP"} {
		if errs[i] != nil {
			t.Fatalf("the %s's edit: %v", side, errs[i])
		}
	}
}

// edit is one statement that must change exactly one row.
func edit(db *sql.DB, q string, args ...any) func() error {
	return func() error {
		res, err := db.Exec(q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errUnchanged
		}
		return nil
	}
}

var errUnchanged = errors.New("changed no row")

// waitConflict waits for the conflicts topic to hold a record of sink for
// entity.field of key whose decision starts with decision.
func (e *e2eEnv) waitConflict(t *testing.T, sink, entity, field, key, decision string) conflictRecord {
	t.Helper()
	var found conflictRecord
	waitFor(t, "conflict: "+sink+" sink, "+entity+"."+field+" of "+key+": "+decision, func() (bool, error) {
		if testenv.TopicSize(t, e.prefix+".conflicts") <= 0 {
			return false, nil
		}
		for _, m := range testenv.ReadTopic(t, e.prefix+".conflicts") {
			var c conflictRecord
			if err := json.Unmarshal(m.Value, &c); err != nil {
				return false, err
			}
			if c.Sink == sink && c.Entity == entity && c.Field == field && strings.HasPrefix(c.Decision, decision) && strings.Contains(string(m.Key), key) {
				found = c
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// TestIntegrationE2EConcurrentEdits: one entity changed on both sides at
// the same moment ends the way the preset's ownership says, on both sides,
// and each sink that refused a change logged it on the conflicts topic.
//   - order status (ownership both): the later change wins, by the shop's
//     date_updated_gmt and the ERP's write_date, whichever arrives first;
//   - a return's status is the ERP's: the shop's change is refused even
//     when later, while its refund amount (both) wins by being later.
func TestIntegrationE2EConcurrentEdits(t *testing.T) {
	e := startPresetSync(t)
	shop, erp := e.shop, e.erp
	orders := column(t, erp, `SELECT client_order_ref FROM sale_order WHERE state = 'sale' AND client_order_ref IS NOT NULL ORDER BY id LIMIT 2`)
	if len(orders) < 2 {
		t.Fatalf("the seed has %d confirmed orders from the shop, want 2", len(orders))
	}
	at := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return at.Add(d).Format("2006-01-02 15:04:05") }

	t.Run("order status, the ERP later", func(t *testing.T) {
		o := orders[0]
		both(t, edit(shop, `UPDATE wp_wc_orders SET status = 'wc-on-hold', date_updated_gmt = ? WHERE id = ?`, ts(0), o),
			edit(erp, `UPDATE sale_order SET state = 'done', write_date = $1 WHERE client_order_ref = $2`, ts(2*time.Second), o))
		waitFor(t, "shop order "+o+" wc-completed", func() (bool, error) {
			v, err := str(shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, o)
			return v == "wc-completed", err
		})
		c := e.waitConflict(t, "erp", "order", "status", o, "last writer wins: kept erp's")
		if c.Source.System != "shop" || c.Source.Value != "on_hold" || c.Target.Value != "completed" {
			t.Errorf("conflict %+v", c)
		}
		time.Sleep(2 * time.Second) // nothing else may move
		eq(t, "ERP state", mustStr(t, erp, `SELECT state FROM sale_order WHERE client_order_ref = $1`, o), "done")
		eq(t, "shop status", mustStr(t, shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, o), "wc-completed")
	})

	t.Run("order status, the shop later", func(t *testing.T) {
		o := orders[1]
		both(t, edit(shop, `UPDATE wp_wc_orders SET status = 'wc-cancelled', date_updated_gmt = ? WHERE id = ?`, ts(2*time.Second), o),
			edit(erp, `UPDATE sale_order SET state = 'done', write_date = $1 WHERE client_order_ref = $2`, ts(0), o))
		waitFor(t, "ERP order "+o+" cancel", func() (bool, error) {
			v, err := str(erp, `SELECT state FROM sale_order WHERE client_order_ref = $1`, o)
			return v == "cancel", err
		})
		c := e.waitConflict(t, "shop", "order", "status", o, "last writer wins: kept shop's")
		if c.Source.System != "erp" || c.Source.Value != "completed" || c.Target.Value != "cancelled" {
			t.Errorf("conflict %+v", c)
		}
		time.Sleep(2 * time.Second)
		eq(t, "shop status", mustStr(t, shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, o), "wc-cancelled")
		eq(t, "ERP state", mustStr(t, erp, `SELECT state FROM sale_order WHERE client_order_ref = $1`, o), "cancel")
	})

	t.Run("return: status owned by the ERP, refund amount both", func(t *testing.T) {
		e.op(t, demo.OpRequestReturn, 31)
		refund := mustStr(t, shop, `SELECT CAST(id AS CHAR) FROM wp_wc_orders WHERE type = 'shop_order_refund' ORDER BY id DESC LIMIT 1`)
		var move string
		waitFor(t, "the ERP's draft credit note for return "+refund, func() (bool, error) {
			var err error
			move, err = str(erp, `SELECT id FROM account_move WHERE move_type = 'out_refund' AND ref = $1`, refund)
			return move != "", err
		})
		// the shop rejects the return and asks for 11.00, after the ERP
		// posted the credit note for 22.00
		both(t, edit(shop, `UPDATE wp_wc_orders SET status = 'wc-cancelled', total_amount = 11.00, date_updated_gmt = ? WHERE id = ?`, ts(4*time.Second), refund),
			edit(erp, `UPDATE account_move SET state = 'posted', amount_total = 22.00, write_date = $1 WHERE id = $2`, ts(3*time.Second), move))
		waitFor(t, "shop return "+refund+" wc-completed (refunded, the ERP's)", func() (bool, error) {
			v, err := str(shop, `SELECT status FROM wp_wc_orders WHERE id = ?`, refund)
			return v == "wc-completed", err
		})
		waitFor(t, "ERP credit note amount 11 (the shop's, later)", func() (bool, error) {
			v, err := str(erp, `SELECT amount_total FROM account_move WHERE id = $1`, move)
			return num(v) == "11", err
		})
		c := e.waitConflict(t, "erp", "return", "status", refund, "erp owns status")
		if c.Source.Value != "rejected" || c.Target.Value != "refunded" {
			t.Errorf("conflict %+v", c)
		}
		c = e.waitConflict(t, "shop", "return", "refund_amount", refund, "last writer wins: kept shop's")
		if c.Source.System != "erp" {
			t.Errorf("conflict %+v", c)
		}
		time.Sleep(2 * time.Second)
		eq(t, "ERP state", mustStr(t, erp, `SELECT state FROM account_move WHERE id = $1`, move), "posted")
		eq(t, "shop total", num(mustStr(t, shop, `SELECT total_amount FROM wp_wc_orders WHERE id = ?`, refund)), "11")
	})
	e.verify(t, "order", "return")
}
