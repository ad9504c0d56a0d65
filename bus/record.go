package bus

// Record is one Kafka record to write: the topic, the key that chooses the
// partition, and the value. Headers are optional.
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers map[string][]byte
}

// Size is the record's size for in-flight accounting.
func (r *Record) Size() int {
	n := len(r.Topic) + len(r.Key) + len(r.Value)
	for k, v := range r.Headers {
		n += len(k) + len(v)
	}
	return n
}
