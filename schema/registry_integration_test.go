//go:build integration

package schema

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/internal/testenv"
)

const testSchema = `{"type":"record","name":"Probe","namespace":"tandem.test","fields":[
 {"name":"id","type":"long"},
 {"name":"sku","type":"string"},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":26,"scale":8}}]}`

func realRegistry() *Registry {
	c := DefaultRegistry()
	c.URL = testenv.RegistryURL()
	return NewRegistry(c)
}

// TestIntegrationRegistryRoundTrip registers an Avro schema in the real
// registry and reads it back by id with a fresh client (no cache).
func TestIntegrationRegistryRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subject := fmt.Sprintf("tandem.it.%d-value", time.Now().UnixNano())
	id, err := realRegistry().Register(ctx, subject, testSchema)
	if err != nil {
		t.Fatalf("Register (is the registry up? make up): %v", err)
	}
	again, err := realRegistry().Register(ctx, subject, testSchema)
	if err != nil || again != id {
		t.Fatalf("registering the same schema again = %d, %v; want id %d", again, err, id)
	}
	got, err := realRegistry().SchemaByID(ctx, id)
	if err != nil {
		t.Fatalf("SchemaByID(%d): %v", id, err)
	}
	want, _ := goavro.NewCodec(testSchema)
	have, err := goavro.NewCodec(got)
	if err != nil {
		t.Fatalf("schema read back does not parse: %v\n%s", err, got)
	}
	if have.CanonicalSchema() != want.CanonicalSchema() {
		t.Fatalf("schema read back differs:\n got %s\nwant %s", have.CanonicalSchema(), want.CanonicalSchema())
	}
	subjects, err := realRegistry().Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range subjects {
		found = found || s == subject
	}
	if !found {
		t.Errorf("subject %s not listed", subject)
	}
}

// TestIntegrationAvroThroughKafka encodes a record in the Confluent wire
// format, sends it through the real Kafka, and decodes it on the other side
// with the schema fetched by id from the real registry.
func TestIntegrationAvroThroughKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("tandem.it.avro.%d", time.Now().UnixNano())
	id, err := realRegistry().Register(ctx, topic+"-value", testSchema)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	codec, err := goavro.NewCodec(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	price, _ := new(big.Rat).SetString("123456789012345678.12345678")
	body, err := codec.BinaryFromNative(nil, map[string]any{"id": int64(42), "sku": "SKU-42", "price": price})
	if err != nil {
		t.Fatal(err)
	}
	value := append(AppendFrame(nil, id), body...)

	kc := bus.Default()
	kc.Brokers = []string{testenv.KafkaBroker()}
	kc.Partitions = 1
	if err := kc.EnsureTopics(ctx, nil, topic); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("SKU-42"), Value: value}); err != nil {
		t.Fatalf("produce: %v", err)
	}
	w.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	gotID, gotBody, err := Unframe(m.Value)
	if err != nil || gotID != id {
		t.Fatalf("Unframe = %d, %v; want id %d", gotID, err, id)
	}
	s, err := realRegistry().SchemaByID(ctx, gotID)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := goavro.NewCodec(s)
	if err != nil {
		t.Fatal(err)
	}
	native, _, err := dec.NativeFromBinary(gotBody)
	if err != nil {
		t.Fatal(err)
	}
	rec := native.(map[string]any)
	if rec["id"] != int64(42) || rec["sku"] != "SKU-42" || rec["price"].(*big.Rat).Cmp(price) != 0 {
		t.Fatalf("decoded %v, want id 42, SKU-42, price %s", rec, price.FloatString(8))
	}
}

// TestIntegrationRegistryEnforcesBackward checks that the local registry
// refuses a schema change that is not BACKWARD compatible and accepts one
// that adds a nullable field with a default.
func TestIntegrationRegistryEnforcesBackward(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subject := fmt.Sprintf("tandem.it.compat.%d-value", time.Now().UnixNano())
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`
	required := `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"long"}]}`
	optional := `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":["null","long"],"default":null}]}`
	id1, err := realRegistry().Register(ctx, subject, v1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = realRegistry().Register(ctx, subject, required)
	var re *RegistryError
	if !errors.As(err, &re) || re.Status != 409 {
		t.Fatalf("adding a required field: err = %v, want HTTP 409", err)
	}
	id2, err := realRegistry().Register(ctx, subject, optional)
	if err != nil || id2 == id1 {
		t.Fatalf("adding a nullable field with a default: id %d, %v (v1 id %d)", id2, err, id1)
	}
}
