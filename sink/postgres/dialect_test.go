package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

func TestDialectSQL(t *testing.T) {
	d := Dialect{}
	sinktest.CheckSQL(t, []sinktest.SQLCase{
		{"quote", d.Quote("orders"), `"orders"`},
		{"quote qualified", d.Quote("shop.order_line"), `"shop"."order_line"`},
		{"quote quotes", d.Quote(`we"ird`), `"we""ird"`},
		{"placeholder 1", d.Placeholder(1), "$1"},
		{"placeholder 12", d.Placeholder(12), "$12"},
		{"json set", d.JSONSet(`"attrs"`, "color", "$3"),
			`jsonb_set(coalesce("attrs"::jsonb, '{}'::jsonb), '{color}', to_jsonb($3::text))`},
		{"json set nested", d.JSONSet(`"attrs"`, "size.eu", "$1"),
			`jsonb_set(jsonb_set(coalesce("attrs"::jsonb, '{}'::jsonb), '{size}', coalesce(coalesce("attrs"::jsonb, '{}'::jsonb) #> '{size}', '{}'::jsonb)), '{size,eu}', to_jsonb($1::text))`},
		{"json set odd key", d.JSONSet(`"a"`, `it's a "key",x`, "$1"),
			`jsonb_set(coalesce("a"::jsonb, '{}'::jsonb), '{"it''s a \"key\",x"}', to_jsonb($1::text))`},
		{"upsert", d.Upsert("public.stock", []string{"sku", "qty"}, 2, []string{"sku"}, []string{"qty"}),
			`INSERT INTO "public"."stock" ("sku", "qty") VALUES ($1, $2), ($3, $4) ON CONFLICT ("sku") DO UPDATE SET "qty" = EXCLUDED."qty"`},
		{"upsert nothing to update", d.Upsert("stock", []string{"sku", "qty"}, 1, []string{"sku"}, nil),
			`INSERT INTO "stock" ("sku", "qty") VALUES ($1, $2) ON CONFLICT ("sku") DO NOTHING`},
		{"name", d.Name(), "postgres"},
	})
}

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	sinktest.CheckClassify(t, Classify, sink.Transient,
		pg("40001"),                          // serialization failure
		fmt.Errorf("apply: %w", pg("40P01")), // deadlock, wrapped
		pg("55P03"), pg("55006"),             // lock not available, object (origin) in use
		pg("57P01"), pg("57P02"), pg("57P03"), // shutdown, crash shutdown, cannot connect now
		pg("53300"), pg("08006")) // too many connections, connection failure
	sinktest.CheckClassify(t, Classify, sink.RowError,
		pg("23505"), pg("23502"), pg("23503"), // unique, not null, foreign key
		pg("22P02"), pg("22003")) // invalid text, numeric out of range
	sinktest.CheckClassify(t, Classify, sink.Fatal,
		pg("42P01"), pg("42703"), pg("42501"), // undefined table, column; insufficient privilege
		pg("42601"), pg("53100")) // syntax error, disk full
	sinktest.CheckClassifyCommon(t, Classify)
}
