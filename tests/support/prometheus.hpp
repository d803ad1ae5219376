// A strict reader of the Prometheus text format (0.0.4) for tests: every line
// must parse, every sample must belong to a family announced by HELP and TYPE,
// and histograms must be well formed (ascending `le`, cumulative buckets, a
// last `+Inf` bucket equal to `_count`). Problems are collected, not thrown,
// so that a test can print all of them.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace blast::test {

struct prom_sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

class prom_text {
public:
  explicit prom_text(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty())
        continue;
      if (line[0] == '#') {
        comment(line, n);
        continue;
      }
      prom_sample s;
      if (!parse_sample(line, s)) {
        problem(n, "unparseable sample: " + line);
        continue;
      }
      auto fam = family_of(s.name);
      if (!help_.count(fam) || !type_.count(fam))
        problem(n, "sample " + s.name + " before its family's HELP and TYPE");
      samples_.push_back(std::move(s));
    }
    check_histograms();
  }

  const std::vector<std::string>& problems() const { return problems_; }
  const std::map<std::string, std::string>& types() const { return type_; }
  const std::vector<prom_sample>& samples() const { return samples_; }

  // The value of the sample with exactly these labels; NaN when absent.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (auto& s : samples_)
      if (s.name == name && s.labels == labels)
        return s.value;
    return std::nan("");
  }
  // The value, or 0 when the sample is absent (series appear on first use).
  double value_or_zero(const std::string& name,
                       const std::map<std::string, std::string>& labels = {}) const {
    auto v = value(name, labels);
    return std::isnan(v) ? 0 : v;
  }

private:
  void problem(int line, const std::string& what) {
    problems_.push_back("line " + std::to_string(line) + ": " + what);
  }

  // A histogram's samples carry suffixes; their family is the base name.
  std::string family_of(const std::string& name) const {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string sfx = suffix;
      if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        auto base = name.substr(0, name.size() - sfx.size());
        auto t = type_.find(base);
        if (t != type_.end() && t->second == "histogram")
          return base;
      }
    }
    return name;
  }

  static bool name_ok(const std::string& n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0])))
      return false;
    for (char c : n)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':')
        return false;
    return true;
  }

  void comment(const std::string& line, int n) {
    std::istringstream in(line);
    std::string hash, kind, name;
    in >> hash >> kind >> name;
    if (kind != "HELP" && kind != "TYPE")
      return;  // a plain comment
    if (!name_ok(name))
      return problem(n, "bad metric name in: " + line);
    std::string rest;
    std::getline(in, rest);
    if (!rest.empty() && rest[0] == ' ')
      rest.erase(0, 1);
    if (kind == "HELP") {
      if (help_.count(name))
        problem(n, "second HELP for " + name);
      if (rest.empty())
        problem(n, "empty HELP for " + name);
      help_[name] = rest;
    } else {
      static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary",
                                                  "untyped"};
      if (!types.count(rest))
        problem(n, "unknown TYPE '" + rest + "' for " + name);
      if (type_.count(name))
        problem(n, "second TYPE for " + name);
      type_[name] = rest;
    }
  }

  static bool parse_sample(const std::string& line, prom_sample& s) {
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (!name_ok(s.name))
      return false;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
          return false;
        std::string key = line.substr(i, eq - i);
        if (!name_ok(key))
          return false;
        std::string val;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            val += line[j] == 'n' ? '\n' : line[j];
          } else {
            val += line[j];
          }
        }
        if (j >= line.size())
          return false;
        if (s.labels.count(key))
          return false;
        s.labels[key] = val;
        i = j + 1;
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      if (i >= line.size())
        return false;
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ')
      return false;
    std::string v = line.substr(i + 1);
    if (v == "+Inf" || v == "-Inf" || v == "NaN") {
      s.value = v == "NaN" ? std::nan("") : (v[0] == '-' ? -INFINITY : INFINITY);
      return true;
    }
    char* end = nullptr;
    s.value = std::strtod(v.c_str(), &end);
    return !v.empty() && end && *end == '\0';
  }

  void check_histograms() {
    for (auto& [fam, type] : type_) {
      if (type != "histogram")
        continue;
      // Per label set (without le): the buckets in order, the sum and the count.
      std::map<std::map<std::string, std::string>, std::vector<std::pair<std::string, double>>> buckets;
      std::map<std::map<std::string, std::string>, double> counts;
      std::set<std::map<std::string, std::string>> sums;
      for (auto& s : samples_) {
        if (s.name == fam + "_bucket") {
          auto labels = s.labels;
          auto le = labels.find("le");
          if (le == labels.end()) {
            problems_.push_back(fam + ": a bucket without le");
            continue;
          }
          auto bound = le->second;
          labels.erase(le);
          buckets[labels].emplace_back(bound, s.value);
        } else if (s.name == fam + "_count") {
          counts[s.labels] = s.value;
        } else if (s.name == fam + "_sum") {
          sums.insert(s.labels);
        } else if (s.name == fam) {
          problems_.push_back(fam + ": a histogram sample without a suffix");
        }
      }
      for (auto& [labels, list] : buckets) {
        std::string where = fam + describe(labels);
        if (list.empty() || list.back().first != "+Inf") {
          problems_.push_back(where + ": the last bucket is not +Inf");
          continue;
        }
        double prev_bound = -INFINITY, prev = 0;
        for (auto& [bound, v] : list) {
          double b = bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr);
          if (!(b > prev_bound))
            problems_.push_back(where + ": le " + bound + " not ascending");
          if (v < prev)
            problems_.push_back(where + ": bucket le=" + bound + " not cumulative");
          prev_bound = b;
          prev = v;
        }
        auto c = counts.find(labels);
        if (c == counts.end())
          problems_.push_back(where + ": no _count");
        else if (c->second != list.back().second)
          problems_.push_back(where + ": +Inf bucket " + std::to_string(list.back().second) +
                              " != _count " + std::to_string(c->second));
        if (!sums.count(labels))
          problems_.push_back(where + ": no _sum");
      }
    }
  }

  static std::string describe(const std::map<std::string, std::string>& labels) {
    std::string out = "{";
    for (auto& [k, v] : labels)
      out += (out.size() > 1 ? "," : "") + k + "=" + v;
    return out + "}";
  }

  std::map<std::string, std::string> help_, type_;
  std::vector<prom_sample> samples_;
  std::vector<std::string> problems_;
};

} // namespace blast::test
