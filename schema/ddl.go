package schema

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/linkedin/goavro/v2"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
)

// SchemaChangeSchema is the Avro record of the schema_changes topic
// (<prefix>.<system>.schema_changes), keyed by the database as an Avro
// string. It carries the DDL statements the source logged, for downstream
// consumers; tandem itself follows schema changes through table versions.
const SchemaChangeSchema = `{"type":"record","name":"SchemaChange","namespace":"tandem","fields":[
 {"name":"system","type":"string","doc":"the tandem system the statement was captured from"},
 {"name":"database","type":"string","doc":"the statement's default database"},
 {"name":"statement","type":"string","doc":"the DDL statement as logged"},
 {"name":"position","type":"string","doc":"the statement's log position, human-readable"},
 {"name":"order","type":"string","doc":"hex of the position: sorts in log order"},
 {"name":"ts_us","type":["null","long"],"default":null,"doc":"when the statement ran, microseconds since the epoch"}]}`

// SchemaChangesTopic names a system's DDL topic.
func SchemaChangesTopic(prefix, system string) string {
	return prefix + "." + system + ".schema_changes"
}

type ddlCodec struct {
	keyID, valueID int
	key, value     *goavro.Codec
}

// DDL encodes a schema change statement for the schema_changes topic.
func (s *Serializer) DDL(ctx context.Context, d *capture.DDL) (bus.Record, error) {
	if d == nil || d.Position == nil {
		return bus.Record{}, fmt.Errorf("encode DDL: no position")
	}
	topic := SchemaChangesTopic(s.opts.TopicPrefix, s.opts.System)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.ddl
	if c.value == nil {
		key, err := goavro.NewCodec(TransactionKeySchema)
		if err != nil {
			return bus.Record{}, err
		}
		value, err := goavro.NewCodec(SchemaChangeSchema)
		if err != nil {
			return bus.Record{}, err
		}
		if c.keyID, err = s.reg.Register(ctx, topic+"-key", TransactionKeySchema); err != nil {
			return bus.Record{}, fmt.Errorf("schema of %s: %w", topic, err)
		}
		if c.valueID, err = s.reg.Register(ctx, topic+"-value", SchemaChangeSchema); err != nil {
			return bus.Record{}, fmt.Errorf("schema of %s: %w", topic, err)
		}
		c.key, c.value = key, value
	}
	var ts any
	if !d.Time.IsZero() {
		ts = map[string]any{"long": d.Time.UnixMicro()}
	}
	key, err := c.key.BinaryFromNative(AppendFrame(nil, c.keyID), d.Database)
	if err != nil {
		return bus.Record{}, err
	}
	value, err := c.value.BinaryFromNative(AppendFrame(nil, c.valueID), map[string]any{
		"system": s.opts.System, "database": d.Database, "statement": d.Statement,
		"position": d.Position.String(), "order": hex.EncodeToString(d.Position.Key()), "ts_us": ts,
	})
	if err != nil {
		return bus.Record{}, err
	}
	return bus.Record{Topic: topic, Key: key, Value: value}, nil
}
