package redis

// UsePlainPubSub makes a Bus on a cluster use plain PUBLISH/SUBSCRIBE, the
// alternative to sharded pub/sub that BenchmarkClusterBus measures.
func UsePlainPubSub(b *Bus) { b.sharded = false }
