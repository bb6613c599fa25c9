/**
 * `event_store.client.server_features.ServerFeatures/GetSupportedMethods`, as the server answers it
 * (kurrent-io/KurrentDB release/v24.10, src/EventStore.Core/Services/Transport/Grpc/ServerFeatures.cs):
 * every gRPC method of the `...client...` services, lower-cased, with features for Read ("position",
 * "events") and BatchAppend ("deadline_duration"), and the server version as `major.minor.patch`.
 *
 * Client 6.2 asks once per connection, before its first append, and appends through BatchAppend when the
 * list holds it (streams/appendToStream/index.js); on UNIMPLEMENTED it assumes an unknown server.
 */
import type * as grpc from '@grpc/grpc-js';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';

const STREAMS = 'event_store.client.streams.streams';

export const serverFeaturesService = (options: {
  version: string;
  batchAppend: boolean;
}): grpc.UntypedServiceImplementation => ({
  getSupportedMethods: (_call: unknown, callback: grpc.sendUnaryData<SupportedMethods>) => {
    const methods: [string, string, string[]][] = [
      [STREAMS, 'read', ['position', 'events']],
      [STREAMS, 'append', []],
      [STREAMS, 'delete', []],
      [STREAMS, 'tombstone', []],
      ...(options.batchAppend
        ? ([[STREAMS, 'batchappend', ['deadline_duration']]] as [string, string, string[]][])
        : []),
      ['event_store.client.server_features.serverfeatures', 'getsupportedmethods', []],
    ];
    const result = new SupportedMethods();
    result.setEventStoreServerVersion(options.version);
    result.setMethodsList(
      methods.map(([service, method, features]) => {
        const m = new SupportedMethod();
        m.setServiceName(service);
        m.setMethodName(method);
        m.setFeaturesList(features);
        return m;
      }),
    );
    callback(null, result);
  },
});
