#include "mesh_picture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace p2p::cli {

namespace {

/// Maps t in [0, 1] onto a green -> yellow -> red ramp.
std::string ramp(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const int r = static_cast<int>(std::lround(255 * std::min(1.0, 2 * t)));
  const int g = static_cast<int>(std::lround(200 * std::min(1.0, 2 * (1 - t))));
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x40", r, g);
  return buf;
}

std::string colour_of(const MeshPicture::Node& n, double max_ms) {
  if (!n.reached_ms) return "#b0b0b0";
  return ramp(max_ms > 0 ? *n.reached_ms / max_ms : 0.0);
}

double max_reached(const MeshPicture& p) {
  double m = 0;
  for (const auto& n : p.nodes)
    if (n.reached_ms) m = std::max(m, *n.reached_ms);
  return m;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_svg(const MeshPicture& p) {
  const double size = 640, centre = size / 2, radius = size / 2 - 70;
  const std::size_t n = p.nodes.size();
  auto pos = [&](std::size_t i) {
    const double a = 2 * std::numbers::pi * static_cast<double>(i) /
                         static_cast<double>(std::max<std::size_t>(n, 1)) -
                     std::numbers::pi / 2;
    return std::pair{centre + radius * std::cos(a), centre + 20 + radius * std::sin(a)};
  };
  const double max_ms = max_reached(p);
  std::string svg;
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      size, size + 40);
  svg += buf;
  svg += "<text x=\"10\" y=\"24\" font-size=\"16\">" + xml_escape(p.title) + "</text>\n";
  for (auto [a, b] : p.edges) {
    if (a >= n || b >= n) continue;
    auto [x1, y1] = pos(a);
    auto [x2, y2] = pos(b);
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                  "stroke-width=\"1\"/>\n",
                  x1, y1, x2, y2);
    svg += buf;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& node = p.nodes[i];
    auto [x, y] = pos(i);
    std::snprintf(buf, sizeof buf,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"16\" fill=\"%s\" stroke=\"%s\" "
                  "stroke-width=\"%d\"/>\n",
                  x, y, colour_of(node, max_ms).c_str(), node.origin ? "#000" : "#444",
                  node.origin ? 3 : 1);
    svg += buf;
    std::string time = node.reached_ms ? (node.origin ? "origin" : [&] {
      char t[32];
      std::snprintf(t, sizeof t, "%.2f ms", *node.reached_ms);
      return std::string(t);
    }())
                                       : "not reached";
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                  "fill=\"#333\">%s</text>\n",
                  x, y + 4, xml_escape(node.label).c_str(), x, y + 30, xml_escape(time).c_str());
    svg += buf;
  }
  svg += "</svg>\n";
  return svg;
}

std::string render_dot(const MeshPicture& p) {
  const double max_ms = max_reached(p);
  std::string dot = "graph mesh {\n  graph [overlap=false, splines=true, label=\"" + p.title +
                    "\"];\n  node [shape=circle, style=filled, fontname=\"sans-serif\"];\n";
  char buf[256];
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const auto& node = p.nodes[i];
    std::string label = node.label;
    if (node.reached_ms && !node.origin) {
      std::snprintf(buf, sizeof buf, "\\n%.2f ms", *node.reached_ms);
      label += buf;
    }
    std::snprintf(buf, sizeof buf, "  n%zu [label=\"%s\", fillcolor=\"%s\"%s];\n", i, label.c_str(),
                  colour_of(node, max_ms).c_str(), node.origin ? ", penwidth=3" : "");
    dot += buf;
  }
  for (auto [a, b] : p.edges) {
    std::snprintf(buf, sizeof buf, "  n%zu -- n%zu;\n", a, b);
    dot += buf;
  }
  dot += "}\n";
  return dot;
}

}  // namespace p2p::cli
