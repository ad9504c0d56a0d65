//go:build integration

package mysql

import (
	"fmt"
	"testing"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/capture/internal/rowsource/rowsourcetest"
)

func TestIntegrationRowSourceScan(t *testing.T) {
	e := rowsOpen(t, "CREATE TABLE $T (a INT, b INT, v VARCHAR(20), PRIMARY KEY (a, b))")
	b := rowsourcetest.ScanB
	e.insertN(t, 3*b, func(i int) string { return fmt.Sprintf("%d, %d, 'v%[1]d-%[2]d'", (i-1)/b+1, (i-1)%b+1) })
	_, name := capture.SplitTable(e.Table)
	nokey := quote(name + "_nokey")
	e.exec(t, "CREATE TABLE "+nokey+" (id INT)")
	t.Cleanup(func() { e.exec(t, "DROP TABLE IF EXISTS "+nokey) })
	rowsourcetest.TestScan(t, &e.Env, e.Table+"_nokey")
}
