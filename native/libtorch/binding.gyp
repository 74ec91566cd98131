{
  "targets": [
    {
      "target_name": "imgcls_torch",
      "sources": ["imgcls_torch.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["/usr/include/torch/csrc/api/include"],
      "cflags_cc!": ["-fno-rtti", "-fno-exceptions"],
      "cflags_cc": ["-frtti", "-fexceptions", "-std=c++17", "-O2"],
      "libraries": ["-ltorch_cpu", "-lc10"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
