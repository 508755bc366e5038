package shop;

import java.util.List;

public class OrderService extends BaseService implements Submitter {
    public static final int MAX_RETRIES = 3;
    private final List<Order> orders;

    public OrderService(List<Order> orders) {
        this.orders = orders;
    }

    @Override
    public void submit(Order order) {
        validate(order);
        orders.add(new Order(order.id()));
    }

    private void validate(Order order) {
        if (order == null) throw new IllegalArgumentException("order");
    }

    interface Listener {
        void onSubmit(Order order);
    }

    enum State { OPEN, CLOSED }

    record Line(String sku, int count) {}
}
