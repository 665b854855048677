package client

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

// BenchmarkEncode and BenchmarkDecode are the cost of the record codec
// alone, one of every record per op: the daemon encodes at every check
// and every signal, a client decodes every reply.
//
//	go test -run '^$' -bench 'Encode|Decode' ./internal/client
func BenchmarkEncode(b *testing.B) {
	recs := sampleRecords()
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range recs {
			_ = Encode(r)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	recs := sampleRecords()
	maps := make([]map[string]dbus.Variant, len(recs))
	for i, r := range recs {
		maps[i] = Encode(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, r := range recs {
			_ = decode(r, maps[i])
		}
	}
}
