// The text of an alert's annotations: {{ $value }} (the value that made it fire),
// {{ $labels.NAME }} (one of its labels; empty when it has none) and {{ $rule }} (the rule's
// name) are replaced, spaces inside the braces optional. Anything else between {{ and }} is
// kept as written, so a typo shows in the notification rather than vanishing. Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace skiff::alert {

std::string expandTemplate(std::string_view text, const std::map<std::string, std::string>& labels,
                           double value, const std::string& rule);

// A value as people read it: integers without a fraction, others with up to 4 significant
// digits ("0.0523", "1.5e+09"), NaN and ±Inf as Prometheus writes them.
std::string formatValue(double value);

}  // namespace skiff::alert
