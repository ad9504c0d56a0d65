package mapping

import (
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/internal/config"
)

func TestDeclaredEntitySchema(t *testing.T) {
	cfg, err := Load("m.yaml", []byte(goodMapping), config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	item, err := cfg.Entity("item")
	if err != nil {
		t.Fatalf("Entity(item): %v", err)
	}
	if item.FullName() != "tandem.entity.item" || !item.Root() || strings.Join(item.NaturalKey, ",") != "sku" || strings.Join(item.AggregateKey, ",") != "sku" {
		t.Errorf("item: %+v", item)
	}
	price, _ := item.Field("price")
	if price.Type != "decimal" || price.Precision != 26 || price.Scale != 2 || price.Kind != "quantity" || price.Required {
		t.Errorf("price: %+v", price)
	}
	sku, _ := item.Field("sku")
	if !sku.Required || sku.Type != "string" {
		t.Errorf("sku: %+v", sku)
	}
	if st, _ := item.Field("status"); strings.Join(st.Values, ",") != "active,draft" {
		t.Errorf("status values: %+v", st)
	}
	if _, err := goavro.NewCodec(item.Schema); err != nil {
		t.Errorf("the generated schema does not compile: %v\n%s", err, item.Schema)
	}

	line, err := cfg.Entity("item_line")
	if err != nil {
		t.Fatalf("Entity(item_line): %v", err)
	}
	if line.Root() || line.Aggregate != "item" || strings.Join(line.AggregateKey, ",") != "item_sku" {
		t.Errorf("item_line aggregate: %+v", line)
	}
	if f, _ := line.Field("item_sku"); !f.Required {
		t.Errorf("a parent key field must be required: %+v", f)
	}

	if e, err := cfg.Entity("order_line"); err != nil || e.Aggregate != "order" {
		t.Errorf("built-in order_line: %+v, %v", e, err)
	}
	if _, err := cfg.Entity("nothing"); err == nil || !strings.Contains(err.Error(), `unknown entity "nothing"`) {
		t.Errorf("unknown entity: %v", err)
	}
}

func TestDeclaredDecimalScaleZero(t *testing.T) {
	src := strings.Replace(goodMapping, "      price: {type: decimal, scale: 2}", "      price: {type: decimal, precision: 12, scale: 0, kind: money}", 1)
	cfg, err := Load("m.yaml", []byte(src), config.Env{})
	if err != nil {
		t.Fatal(err)
	}
	item, err := cfg.Entity("item")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := item.Field("price"); f.Precision != 12 || f.Scale != 0 || f.Kind != "money" {
		t.Errorf("price: %+v", f)
	}
}
