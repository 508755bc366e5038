<?php

namespace Shop;

use Shop\Contracts\Submitter;

const MAX_RETRIES = 3;

interface Listener
{
    public function onSubmit(Order $order): void;
}

trait Logs
{
    public function log(string $message): void {}
}

class Order extends Entity implements Submitter
{
    use Logs;

    private string $id;

    public function __construct(string $id)
    {
        $this->id = $id;
    }

    public function submit(Client $client): void
    {
        $client->post($this->id);
        $this->log("submitted");
        Order::build($this->id);
    }

    public static function build(string $id): self
    {
        return new Order($id);
    }
}

function place(Order $order): void
{
    $order->submit(new Client());
}
