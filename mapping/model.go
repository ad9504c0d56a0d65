package mapping

// The mapping language: how each system stores each entity, which entities
// flow where, and which system owns which field. It lives in the config
// file beside the systems:
//
//	entities:                      # entities of your own, beside the built-in ones
//	  loyalty_account:
//	    key: [email]
//	    fields:
//	      email: {type: string, required: true}
//	      points: {type: decimal, scale: 0}
//	systems:
//	  shop:
//	    entities:
//	      product:
//	        table: shop.wp_posts       # the root table; one row is one entity
//	        id: ID                     # the column that identifies the row
//	        where: {post_type: product}  # only these rows; written on insert
//	        fields:
//	          name: post_title         # a column
//	          status: {column: post_status, map: {publish: active, draft: draft}}
//	        meta:                      # EAV: rows (owner, key, value) of another table
//	          - table: shop.wp_postmeta
//	            owner: post_id
//	            key: meta_key
//	            value: meta_value
//	            fields:
//	              sku: _sku
//	              list_price: {key: _regular_price, cast: decimal}
//	        joins:                     # more tables keyed by the root row's id
//	          - table: shop.wc_product_meta_lookup
//	            owner: product_id
//	            fields: {...}
//	flows:
//	  - {entity: product, from: erp, to: shop}
//	ownership:
//	  order: {owner: shop, fields: {status: erp}}

// EntityDef declares an entity of the mapping's own.
type EntityDef struct {
	Key       []string            `yaml:"key" doc:"The natural key: the fields that identify one entity in every system."`
	Parent    string              `yaml:"parent" doc:"For a child entity, its aggregate root (it travels in the root's topic)."`
	ParentKey []string            `yaml:"parent_key" doc:"For a child entity, its fields that hold the parent's natural key, in the parent key's order (default: fields named as the parent's key fields)."`
	Fields    map[string]FieldDef `yaml:"fields" doc:"The entity's fields and their types."`
}

// FieldDef declares one field of an entity of the mapping's own.
type FieldDef struct {
	Type      string   `yaml:"type" doc:"string, int, long, decimal, boolean, timestamp, date or json."`
	Precision int      `yaml:"precision" doc:"decimal: total digits (default 26)."`
	Scale     *int     `yaml:"scale" doc:"decimal: digits after the point (default 8)."`
	Kind      string   `yaml:"kind" doc:"decimal: what it measures, money, quantity, weight or percent (default quantity)."`
	Required  bool     `yaml:"required" doc:"Every system that maps the entity must map this field."`
	Values    []string `yaml:"values" doc:"The canonical values of a status-like string field."`
}

// EntityMapping says how one system stores one entity.
type EntityMapping struct {
	Table  string               `yaml:"table" doc:"The root table, schema.table or database.table; one row is one entity."`
	ID     string               `yaml:"id" doc:"The column that identifies a row of the root table (the local id)."`
	Where  map[string]string    `yaml:"where" doc:"Only rows whose columns have these values are the entity; the values are written on insert."`
	Parent *ParentRef           `yaml:"parent" doc:"For a child entity: the column holding its parent's local id."`
	Fields map[string]FieldSpec `yaml:"fields" doc:"Entity fields from columns of the root table."`
	Meta   []MetaTable          `yaml:"meta" doc:"EAV tables whose (owner, key, value) rows contribute fields."`
	Joins  []JoinTable          `yaml:"joins" doc:"More tables keyed by the root row's id, each contributing fields."`
	Delete string               `yaml:"delete" doc:"Sink side: hard (delete rows), soft:<column>=<value> (mark them), or none (ignore deletes). Default hard, and none for create: false (the row is another entity's)."`
	Match  []string             `yaml:"match" doc:"Sink side: the fields that find the target row (default the natural key), e.g. [order_number] for a shipment kept on its order's row."`
	Create *bool                `yaml:"create" doc:"Sink side: insert a row when none matches (default true); false for an entity that lives on another entity's row, which then waits for that row."`
}

// DeleteMode returns how the sink applies a delete: hard, none, or the
// soft:<column>=<value> form.
func (m *EntityMapping) DeleteMode() string {
	switch {
	case m.Delete != "":
		return m.Delete
	case !m.Creates():
		return "none" // the row belongs to another entity: never delete it
	}
	return "hard"
}

// Creates reports whether the sink inserts a row when none matches.
func (m *EntityMapping) Creates() bool { return m.Create == nil || *m.Create }

// ParentRef links a child entity's row to its parent's row.
type ParentRef struct {
	Column string `yaml:"column" doc:"The column holding the parent's local id."`
	Entity string `yaml:"entity" doc:"The parent entity."`
}

// MetaTable is an EAV table: each row contributes one field.
type MetaTable struct {
	Table  string               `yaml:"table" doc:"The meta table."`
	Owner  string               `yaml:"owner" doc:"Its column holding the root row's id."`
	Key    string               `yaml:"key" doc:"Its column holding the field's name (meta_key)."`
	Value  string               `yaml:"value" doc:"Its column holding the value (meta_value)."`
	Fields map[string]FieldSpec `yaml:"fields" doc:"Entity fields from meta keys: field: meta_key, or {key: meta_key, cast: ...}."`
}

// JoinTable is a table with one row per root row (or per root row and a
// discriminator, as WooCommerce's billing and shipping addresses).
type JoinTable struct {
	Table  string               `yaml:"table" doc:"The joined table."`
	Into   string               `yaml:"into" doc:"A record or list field of the entity that the joined rows fill (e.g. billing_address, lines); its fields are then that record's."`
	Owner  string               `yaml:"owner" doc:"Its column matching the root row (the root's id, or the root's via column)."`
	Via    string               `yaml:"via" doc:"The root table's column that owner matches, for a table the root refers to (e.g. product_tmpl_id); default the root's id."`
	Shared bool                 `yaml:"shared" doc:"With via: its rows are shared by many roots (a currency): the sink points the root at the row whose fields match, and never writes the row itself."`
	Where  map[string]string    `yaml:"where" doc:"Only its rows with these values (e.g. address_type: billing)."`
	Fields map[string]FieldSpec `yaml:"fields" doc:"Entity fields from its columns."`
}

// FieldSpec is where one entity field comes from and how it is converted.
// In YAML it is either a column (or meta key) name, or a mapping.
type FieldSpec struct {
	Column   string            `yaml:"column" doc:"The column (in a table) the field is stored in."`
	Key      string            `yaml:"key" doc:"The meta key (in a meta table) the field is stored under."`
	Const    *string           `yaml:"const" doc:"A constant: the field always has this value (and it is written on insert)."`
	Cast     string            `yaml:"cast" doc:"Convert the stored value: string, int, long, decimal, boolean, timestamp, date or json."`
	Map      map[string]string `yaml:"map" doc:"Stored value -> canonical value; reversed for writing. Values not listed are errors."`
	Default  *string           `yaml:"default" doc:"The value when the stored one is NULL or missing."`
	JSON     string            `yaml:"json" doc:"A path into a json/jsonb column, e.g. en_US for Odoo's translatable names."`
	Timezone string            `yaml:"timezone" doc:"The zone of a timestamp stored without one, e.g. UTC or Europe/Berlin."`
	Ref      string            `yaml:"ref" doc:"The value is the local id of this entity; it is resolved to that entity's natural key."`
}

// AcceptsScalar marks FieldSpec's short form for the config decoder.
func (*FieldSpec) AcceptsScalar() {}

// UnmarshalYAML accepts the short form: a plain name.
func (f *FieldSpec) UnmarshalYAML(unmarshal func(any) error) error {
	var name string
	if err := unmarshal(&name); err == nil {
		f.Column = name
		return nil
	}
	type plain FieldSpec
	return unmarshal((*plain)(f))
}

// Flow sends an entity's changes from one system to another.
type Flow struct {
	Entity string   `yaml:"entity" doc:"The entity."`
	From   string   `yaml:"from" doc:"The system the changes are captured from."`
	To     string   `yaml:"to" doc:"The system they are applied to."`
	Fields []string `yaml:"fields" doc:"Only these fields (default: every field the from-system owns)."`
}

// Ownership says which system is the source of truth for an entity's
// fields: Owner for every field, except those listed in Fields.
type Ownership struct {
	Owner  string            `yaml:"owner" doc:"The system that owns the entity's fields by default."`
	Fields map[string]string `yaml:"fields" doc:"Fields owned by another system, field -> system."`
	Both   []string          `yaml:"both" doc:"Fields both systems may change; the last writer (by commit time) wins."`
}
