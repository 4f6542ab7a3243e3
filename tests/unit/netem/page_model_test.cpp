#include "page_model.hpp"

#include <doctest/doctest.h>

using namespace ghala::netem;

TEST_CASE("discovery finds the subresources a preload scanner fetches, in order") {
  const auto d = discover_subresources(
      "<!doctype html><html><head>"
      "<link rel=\"stylesheet\" href=\"css/site.css\">"
      "<link rel=icon href=/favicon.ico>"
      "<link rel=\"canonical\" href=\"/other\">"
      "<script src='js/app.js'></script><script>var x = '<img src=no.png>';</script>"
      "</head><body><!-- <img src=\"commented.png\"> -->"
      "<a href=\"/next.html\">next</a>"
      "<img src=\"img/a.jpg\" alt=x><img srcset=\"img/b-480.jpg 480w, img/b-960.jpg 960w\">"
      "<img src=\"img/a.jpg\"><img src=\"https://cdn.example/x.png\">"
      "<img src=\"data:image/png;base64,AAAA\"><img src=\"../up.png\">",
      "/news/index.html", "edge.test");
  CHECK(d.paths == std::vector<std::string>{"/news/css/site.css", "/favicon.ico", "/news/js/app.js",
                                            "/news/img/a.jpg", "/news/img/b-480.jpg", "/up.png"});
  CHECK(d.external == std::vector<std::string>{"https://cdn.example/x.png"});
}

TEST_CASE("absolute URLs to the page's own host are fetched") {
  bool external = true;
  CHECK(resolve_reference("/", "http://Edge.Test/a.css?v=2", "edge.test", external) ==
        "/a.css?v=2");
  CHECK_FALSE(external);
  CHECK(resolve_reference("/a/b/", "./c/../d.js#frag", "h", external) == "/a/b/d.js");
}

TEST_CASE("resource kinds choose Chrome's Accept headers") {
  CHECK(kind_of_path("/img/cat.jpg?w=300") == ResourceKind::Image);
  CHECK(kind_of_path("/") == ResourceKind::Document);
  CHECK(kind_of_path("/v1.2/app") == ResourceKind::Document);
  CHECK(std::string(accept_for(ResourceKind::Image)).find("image/avif") == 0);
}

TEST_CASE("a manifest lists the page first and ignores comments") {
  CHECK(parse_manifest("# news page\n/news.html\n /a.css \n\n/b.jpg # hero\n") ==
        std::vector<std::string>{"/news.html", "/a.css", "/b.jpg"});
}
