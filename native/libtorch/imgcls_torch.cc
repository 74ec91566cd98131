// imgcls_torch: a thin Node addon over libtorch for imgcls' optional training engine.
//
// It knows no architecture: the graph (a list of nodes: conv, swish, mean, ...) and the named weights
// come from TypeScript (src/model/libtorch/graph.ts, generated from the EfficientNet block table).
// It runs the graph forward, one training step (weighted cross-entropy on a dense head, SGD momentum
// or Adam with PyTorch's rules) and copies weights and optimizer state in and out. Forward passes and
// steps run off the JS thread (Napi::AsyncWorker); the JS side never queues two calls at once.
#include <malloc.h>
#include <napi.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Op { Input, Affine, Conv, Swish, Sigmoid, Mean, Pool, Mul, Add };

struct Node {
  Op op;
  std::vector<int> inputs;
  int weight = -1;  // param index (conv kernel, affine scale)
  int bias = -1;    // param index (conv bias, affine offset)
  int stride = 1;
  int groups = 1;
  int lastUse = -1;  // index of the last node reading this one's output
};

struct Param {
  std::string name;
  torch::Tensor value;
  bool trainable;
  std::map<std::string, torch::Tensor> buffers;  // 'momentum' (SGD), 'm' and 'v' (Adam)
};

Op opFromName(const std::string& name) {
  static const std::map<std::string, Op> ops = {
      {"input", Op::Input}, {"affine", Op::Affine}, {"conv", Op::Conv},   {"swish", Op::Swish}, {"sigmoid", Op::Sigmoid},
      {"mean", Op::Mean},   {"pool", Op::Pool},     {"mul", Op::Mul},     {"add", Op::Add},
  };
  auto found = ops.find(name);
  if (found == ops.end()) throw std::runtime_error("unknown graph op: " + name);
  return found->second;
}

// TensorFlow's 'same' padding: (before, after) for one spatial dimension.
std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t kernel, int64_t stride) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
  return {total / 2, total - total / 2};
}

torch::Tensor copyToTensor(const Napi::Float32Array& array, std::vector<int64_t> shape) {
  int64_t count = 1;
  for (auto d : shape) count *= d;
  if (static_cast<int64_t>(array.ElementLength()) != count) {
    throw std::runtime_error("array of " + std::to_string(array.ElementLength()) + " values for a tensor of " +
                             std::to_string(count));
  }
  auto tensor = torch::empty(shape, torch::kFloat32);
  std::memcpy(tensor.data_ptr<float>(), array.Data(), count * sizeof(float));
  return tensor;
}

Napi::Float32Array toArray(Napi::Env env, const torch::Tensor& tensor) {
  auto contiguous = tensor.detach().contiguous().to(torch::kFloat32);
  auto array = Napi::Float32Array::New(env, contiguous.numel());
  std::memcpy(array.Data(), contiguous.data_ptr<float>(), contiguous.numel() * sizeof(float));
  return array;
}

std::vector<int64_t> shapeOf(const Napi::Value& value) {
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); i++) shape.push_back(array.Get(i).As<Napi::Number>().Int64Value());
  return shape;
}

struct Optimizer {
  std::string name = "sgd";
  double learningRate = 1e-3;
  double momentum = 0.9;
  double weightDecay = 0;
  int64_t steps = 0;
};

constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;

class Model {
 public:
  std::vector<Node> nodes;
  std::vector<Param> params;
  int output = -1;
  int headKernel = -1;
  int headBias = -1;
  Optimizer optimizer;
  std::mutex busy;

  // Runs the graph from an NCHW (channels-last) input to the pooled features.
  torch::Tensor forward(const torch::Tensor& input) {
    std::vector<torch::Tensor> values(nodes.size());
    for (size_t i = 0; i < nodes.size(); i++) {
      const Node& node = nodes[i];
      auto in = [&](int k) -> const torch::Tensor& { return values[node.inputs[k]]; };
      switch (node.op) {
        case Op::Input:
          values[i] = input;
          break;
        case Op::Affine:
          values[i] = in(0) * params[node.weight].value.view({1, -1, 1, 1}) + params[node.bias].value.view({1, -1, 1, 1});
          break;
        case Op::Conv: {
          const auto& w = params[node.weight].value;
          auto x = in(0);
          auto [top, bottom] = samePadding(x.size(2), w.size(2), node.stride);
          auto [left, right] = samePadding(x.size(3), w.size(3), node.stride);
          std::vector<int64_t> stride{node.stride, node.stride}, padding{0, 0}, dilation{1, 1};
          if (top == bottom && left == right) {
            padding = {top, left};
          } else {
            x = torch::constant_pad_nd(x, {left, right, top, bottom}, 0);
          }
          values[i] = torch::conv2d(x, w, params[node.bias].value, stride, padding, dilation, node.groups);
          break;
        }
        case Op::Swish:
          values[i] = torch::silu(in(0));
          break;
        case Op::Sigmoid:
          values[i] = torch::sigmoid(in(0));
          break;
        case Op::Mean:
          values[i] = in(0).mean({2, 3}, true);
          break;
        case Op::Pool:
          values[i] = in(0).mean({2, 3}, false);
          break;
        case Op::Mul:
          values[i] = in(0) * in(1);
          break;
        case Op::Add:
          values[i] = in(0) + in(1);
          break;
      }
      // free activations nobody reads any more (autograd keeps what backward needs)
      for (int k : node.inputs) {
        if (nodes[k].lastUse == static_cast<int>(i) && k != output) values[k] = torch::Tensor();
      }
    }
    return values[output];
  }

  torch::Tensor logits(const torch::Tensor& pooled) {
    return torch::matmul(pooled, params[headKernel].value) + params[headBias].value;
  }

  void applyOptimizer() {
    torch::NoGradGuard noGrad;
    bool first = optimizer.steps == 0;
    int64_t t = optimizer.steps + 1;
    for (auto& param : params) {
      if (!param.trainable) continue;
      auto& p = param.value;
      auto grad = p.grad().defined() ? p.grad() : torch::zeros_like(p);
      auto g = optimizer.weightDecay != 0 ? grad + optimizer.weightDecay * p : grad;
      if (optimizer.name == "sgd") {
        auto& buffer = param.buffers["momentum"];
        if (optimizer.momentum == 0 || first || !buffer.defined()) {
          buffer = g.clone();
        } else {
          buffer.mul_(optimizer.momentum).add_(g);
        }
        p.sub_(buffer, optimizer.learningRate);
      } else {
        auto& m = param.buffers["m"];
        auto& v = param.buffers["v"];
        if (!m.defined()) m = torch::zeros_like(p);
        if (!v.defined()) v = torch::zeros_like(p);
        m.mul_(optimizer.momentum).add_(g, 1 - optimizer.momentum);
        v.mul_(kAdamBeta2).addcmul_(g, g, 1 - kAdamBeta2);
        double correction1 = 1 - std::pow(optimizer.momentum, static_cast<double>(t));
        double correction2 = 1 - std::pow(kAdamBeta2, static_cast<double>(t));
        auto denominator = (v / correction2).sqrt_().add_(kAdamEpsilon);
        p.addcdiv_(m, denominator, -optimizer.learningRate / correction1);
      }
    }
    optimizer.steps = t;
  }

  void clearGrads() {
    for (auto& param : params) {
      if (param.value.grad().defined()) param.value.mutable_grad() = torch::Tensor();
    }
  }
};

void tuneOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // glibc: without these, every step maps and unmaps its activations (millions of page faults), and
    // libuv worker threads get their own arenas; together they cost 2-4x the speed (FACTS.md, libtorch).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 2147483647);
    mallopt(M_ARENA_MAX, 1);
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("IMGCLS_TORCH_THREADS")) threads = std::atoi(env);
    if (threads > 0) at::set_num_threads(threads);
  });
}

class TorchModel;

// Runs `work` on a libuv worker thread, then resolves the promise with what `done` builds.
class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  Job(Napi::Env env, std::shared_ptr<Model> model, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)),
        work_(std::move(work)), done_(std::move(done)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      std::lock_guard<std::mutex> lock(model_->busy);
      work_();
    } catch (const c10::Error& err) {
      SetError(err.what_without_backtrace());
    } catch (const std::exception& err) {
      SetError(err.what());
    }
  }
  void OnOK() override { deferred_.Resolve(done_(Env())); }
  void OnError(const Napi::Error& err) override { deferred_.Reject(err.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Model> model_;
  Work work_;
  Done done_;
};

class TorchModel : public Napi::ObjectWrap<TorchModel> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TorchModel",
                       {
                           InstanceMethod("forward", &TorchModel::Forward),
                           InstanceMethod("predict", &TorchModel::Predict),
                           InstanceMethod("step", &TorchModel::Step),
                           InstanceMethod("params", &TorchModel::Params),
                           InstanceMethod("setOptimizer", &TorchModel::SetOptimizer),
                       });
  }

  // new TorchModel({ nodes: [{op, inputs, weight?, bias?, stride?, groups?}], output, head: {kernel, bias},
  //                  params: [{name, shape, data, trainable, buffers?: {momentum?|m?|v?: Float32Array}}] })
  explicit TorchModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TorchModel>(info), model_(std::make_shared<Model>()) {
    tuneOnce();
    Napi::Env env = info.Env();
    try {
      auto graph = info[0].As<Napi::Object>();
      auto params = graph.Get("params").As<Napi::Array>();
      for (uint32_t i = 0; i < params.Length(); i++) {
        auto entry = params.Get(i).As<Napi::Object>();
        auto shape = shapeOf(entry.Get("shape"));
        Param param{entry.Get("name").As<Napi::String>().Utf8Value(),
                    copyToTensor(entry.Get("data").As<Napi::Float32Array>(), shape),
                    entry.Get("trainable").As<Napi::Boolean>().Value(),
                    {}};
        if (entry.Has("buffers") && entry.Get("buffers").IsObject()) {
          auto buffers = entry.Get("buffers").As<Napi::Object>();
          auto keys = buffers.GetPropertyNames();
          for (uint32_t k = 0; k < keys.Length(); k++) {
            auto key = keys.Get(k).As<Napi::String>().Utf8Value();
            param.buffers[key] = copyToTensor(buffers.Get(key).As<Napi::Float32Array>(), shape);
          }
        }
        if (shape.size() == 4) {
          param.value = param.value.contiguous(at::MemoryFormat::ChannelsLast);
          for (auto& [key, buffer] : param.buffers) buffer = buffer.contiguous(at::MemoryFormat::ChannelsLast);
        }
        param.value.set_requires_grad(param.trainable);
        model_->params.push_back(std::move(param));
      }
      auto nodes = graph.Get("nodes").As<Napi::Array>();
      for (uint32_t i = 0; i < nodes.Length(); i++) {
        auto entry = nodes.Get(i).As<Napi::Object>();
        Node node;
        node.op = opFromName(entry.Get("op").As<Napi::String>().Utf8Value());
        auto inputs = entry.Has("inputs") ? entry.Get("inputs").As<Napi::Array>() : Napi::Array::New(env);
        for (uint32_t k = 0; k < inputs.Length(); k++) {
          int input = inputs.Get(k).As<Napi::Number>().Int32Value();
          if (input < 0 || input >= static_cast<int>(i)) throw std::runtime_error("node " + std::to_string(i) + " reads a later node");
          node.inputs.push_back(input);
        }
        auto intOr = [&](const char* key, int fallback) {
          return entry.Has(key) && entry.Get(key).IsNumber() ? entry.Get(key).As<Napi::Number>().Int32Value() : fallback;
        };
        node.weight = intOr("weight", -1);
        node.bias = intOr("bias", -1);
        node.stride = intOr("stride", 1);
        node.groups = intOr("groups", 1);
        int count = static_cast<int>(model_->params.size());
        bool needsParams = node.op == Op::Conv || node.op == Op::Affine;
        if (needsParams && (node.weight < 0 || node.weight >= count || node.bias < 0 || node.bias >= count)) {
          throw std::runtime_error("node " + std::to_string(i) + " names a missing weight");
        }
        for (int k : node.inputs) model_->nodes[k].lastUse = static_cast<int>(i);
        model_->nodes.push_back(node);
      }
      model_->output = graph.Get("output").As<Napi::Number>().Int32Value();
      auto head = graph.Get("head").As<Napi::Object>();
      model_->headKernel = head.Get("kernel").As<Napi::Number>().Int32Value();
      model_->headBias = head.Get("bias").As<Napi::Number>().Int32Value();
      if (model_->output < 0 || model_->output >= static_cast<int>(model_->nodes.size())) throw std::runtime_error("bad graph output");
    } catch (const c10::Error& err) {
      Napi::Error::New(env, err.what_without_backtrace()).ThrowAsJavaScriptException();
    } catch (const std::exception& err) {
      Napi::Error::New(env, err.what()).ThrowAsJavaScriptException();
    }
  }

 private:
  std::shared_ptr<Model> model_;

  // Input: NHWC float32 values and [n, h, w, c]; the NCHW view keeps channels-last memory (no copy).
  static torch::Tensor imageInput(const Napi::CallbackInfo& info) {
    auto shape = shapeOf(info[1]);
    if (shape.size() != 4) throw std::runtime_error("input shape must be [n, h, w, c]");
    return copyToTensor(info[0].As<Napi::Float32Array>(), shape).permute({0, 3, 1, 2});
  }

  template <typename F>
  Napi::Value guard(const Napi::CallbackInfo& info, F body) {
    try {
      return body();
    } catch (const c10::Error& err) {
      Napi::Error::New(info.Env(), err.what_without_backtrace()).ThrowAsJavaScriptException();
    } catch (const std::exception& err) {
      Napi::Error::New(info.Env(), err.what()).ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  // forward(data, shape) → Promise<Float32Array> pooled features [n × features]
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      auto input = imageInput(info);
      auto model = model_;
      auto result = std::make_shared<torch::Tensor>();
      auto* job = new Job(info.Env(), model, [model, input, result] {
        torch::NoGradGuard noGrad;
        *result = model->forward(input);
      }, [result](Napi::Env env) -> Napi::Value { return toArray(env, *result); });
      job->Queue();
      return job->Promise();
    });
  }

  // predict(data, shape) → Promise<Float32Array> softmax [n × classes] through the head (no dropout)
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      auto input = imageInput(info);
      auto model = model_;
      auto result = std::make_shared<torch::Tensor>();
      auto* job = new Job(info.Env(), model, [model, input, result] {
        torch::NoGradGuard noGrad;
        *result = torch::softmax(model->logits(model->forward(input)), 1);
      }, [result](Napi::Env env) -> Napi::Value { return toArray(env, *result); });
      job->Queue();
      return job->Promise();
    });
  }

  // step(data, shape, labels Int32Array, sampleWeights Float32Array, mask Float32Array [n × features], options {apply, grads})
  //   → Promise<{loss, correct, grads?: Float32Array[]}>: weighted cross-entropy, backward, optimizer update when apply.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      auto input = imageInput(info);
      auto labelArray = info[2].As<Napi::Int32Array>();
      int64_t n = input.size(0);
      if (static_cast<int64_t>(labelArray.ElementLength()) != n) throw std::runtime_error("one label per image expected");
      auto labels = torch::empty({n}, torch::kInt64);
      for (int64_t i = 0; i < n; i++) labels[i] = static_cast<int64_t>(labelArray.Data()[i]);
      auto weights = copyToTensor(info[3].As<Napi::Float32Array>(), {n});
      auto mask = info[4].As<Napi::Float32Array>();
      auto maskTensor = copyToTensor(mask, {n, static_cast<int64_t>(mask.ElementLength()) / std::max<int64_t>(n, 1)});
      auto options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(info.Env());
      bool apply = !options.Has("apply") || options.Get("apply").ToBoolean().Value();
      bool wantGrads = options.Has("grads") && options.Get("grads").ToBoolean().Value();
      auto model = model_;
      struct Out {
        double loss = 0;
        int64_t correct = 0;
        std::vector<torch::Tensor> grads;
      };
      auto out = std::make_shared<Out>();
      auto* job = new Job(info.Env(), model, [=] {
        model->clearGrads();
        auto logits = model->logits(model->forward(input) * maskTensor);
        auto logProbabilities = torch::log_softmax(logits, 1);
        auto loss = -(logProbabilities.gather(1, labels.unsqueeze(1)).squeeze(1) * weights).sum();
        loss.backward();
        out->loss = loss.item<double>();
        out->correct = logits.argmax(1).eq(labels).sum().item<int64_t>();
        if (wantGrads) {
          for (auto& param : model->params) {
            out->grads.push_back(param.trainable && param.value.grad().defined() ? param.value.grad().clone() : torch::Tensor());
          }
        }
        if (apply) model->applyOptimizer();
        model->clearGrads();
      }, [out](Napi::Env env) -> Napi::Value {
        auto result = Napi::Object::New(env);
        result.Set("loss", out->loss);
        result.Set("correct", static_cast<double>(out->correct));
        if (!out->grads.empty()) {
          auto grads = Napi::Array::New(env, out->grads.size());
          for (size_t i = 0; i < out->grads.size(); i++) {
            grads.Set(i, out->grads[i].defined() ? Napi::Value(toArray(env, out->grads[i])) : env.Null());
          }
          result.Set("grads", grads);
        }
        return result;
      });
      job->Queue();
      return job->Promise();
    });
  }

  // params() → [{name, data, buffers: {momentum|m|v: Float32Array}}] in the order given, standard (contiguous) layout
  Napi::Value Params(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      std::unique_lock<std::mutex> lock(model_->busy, std::try_to_lock);
      if (!lock.owns_lock()) throw std::runtime_error("the model is busy (a step or forward pass is running)");
      auto env = info.Env();
      auto list = Napi::Array::New(env, model_->params.size());
      for (size_t i = 0; i < model_->params.size(); i++) {
        const auto& param = model_->params[i];
        auto entry = Napi::Object::New(env);
        entry.Set("name", param.name);
        entry.Set("data", toArray(env, param.value));
        auto buffers = Napi::Object::New(env);
        for (const auto& [key, buffer] : param.buffers) buffers.Set(key, toArray(env, buffer));
        entry.Set("buffers", buffers);
        list.Set(i, entry);
      }
      return list;
    });
  }

  // setOptimizer({name, learningRate, momentum, weightDecay, steps})
  Napi::Value SetOptimizer(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      auto settings = info[0].As<Napi::Object>();
      auto& optimizer = model_->optimizer;
      optimizer.name = settings.Get("name").As<Napi::String>().Utf8Value();
      if (optimizer.name != "sgd" && optimizer.name != "adam") throw std::runtime_error("optimizer must be sgd or adam");
      optimizer.learningRate = settings.Get("learningRate").As<Napi::Number>().DoubleValue();
      optimizer.momentum = settings.Get("momentum").As<Napi::Number>().DoubleValue();
      optimizer.weightDecay = settings.Get("weightDecay").As<Napi::Number>().DoubleValue();
      optimizer.steps = settings.Get("steps").As<Napi::Number>().Int64Value();
      return info.Env().Undefined();
    });
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TorchModel", TorchModel::Init(env));
  exports.Set("torchVersion", Napi::String::New(env, std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH)));
  exports.Set("threads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    tuneOnce();
    return Napi::Number::New(info.Env(), at::get_num_threads());
  }));
  return exports;
}

}  // namespace

NODE_API_MODULE(imgcls_torch, Init)
