#include "config/yaml_document.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <string>
#include <vector>

namespace ghala::config {
namespace {

// Records where each document starts and ignores everything else: the first pass only counts.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// At most three documents are read: enough to tell "one", "several" and "no progress" apart,
// and a bound on the yaml-cpp loop that otherwise never ends.
bool check_documents(std::string_view text, Diagnostics& diag) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts docs;
  for (int i = 0; i < 3 && parser.HandleNextDocument(docs); ++i) {
    const YAML::Mark& m = docs.starts.back();
    for (std::size_t j = 0; j + 1 < docs.starts.size(); ++j) {
      if (docs.starts[j].pos == m.pos) {  // the parser is stuck on a token it cannot use
        const auto pos = static_cast<std::size_t>(m.pos);
        const std::string_view what = pos < text.size() ? text.substr(pos, 1) : "end of file";
        diag.error(m, "YAML syntax error: unexpected " + quote_value(what));
        return false;
      }
    }
  }
  if (docs.starts.size() > 1) {
    diag.error(docs.starts[1], "more than one YAML document ('---'): a config is one document");
    return false;
  }
  return true;
}

}  // namespace

std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics& diag) {
  try {
    if (!check_documents(text, diag)) return std::nullopt;
    return YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    diag.error(e.mark, "YAML nesting is too deep");
  } catch (const YAML::Exception& e) {
    diag.error(e.mark, "YAML syntax error: " + e.msg);
  }
  return std::nullopt;
}

}  // namespace ghala::config
