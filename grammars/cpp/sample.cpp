#include <string>
#include <vector>

namespace shop {

constexpr int kMaxRetries = 3;

class Order : public Base {
public:
    explicit Order(std::string id);
    int count() const { return static_cast<int>(items_.size()); }
    virtual void submit();

private:
    std::vector<std::string> items_;
};

struct Line {
    int count;
};

template <typename T>
T twice(T value) {
    return value + value;
}

void Order::submit() {
    auto n = count();
    twice(n);
}

Order::Order(std::string id) : Base(id) {}

}  // namespace shop
