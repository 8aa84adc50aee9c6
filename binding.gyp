{
  "targets": [
    {
      "target_name": "sha256_state",
      "sources": ["native/sha256_state.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
