#include <stdio.h>

#define MAX_RETRIES 3
#define SQUARE(x) ((x) * (x))

typedef struct order {
    int id;
    int count;
} order_t;

enum state { OPEN, CLOSED };

union value {
    int i;
    float f;
};

static int retries = MAX_RETRIES;

int order_total(const order_t *order);

int order_total(const order_t *order) {
    return SQUARE(order->count);
}

void place(order_t *order) {
    printf("%d\n", order_total(order));
}
