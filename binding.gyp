{
  "targets": [
    {
      "target_name": "coffer_native",
      "sources": ["native/coffer_native.c", "native/prefetch.c", "native/malloc-tune.c", "native/aead.c", "native/scan-records.c", "native/list-ahead.c", "native/scrypt-lanes.c", "native/cdc-cut.c"],
      "libraries": ["-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
