"""The fog node of one region: consumes the region's broker, keeps its data in Redis,
and answers the cloud over HTTP."""
