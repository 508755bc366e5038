using System;
using System.Collections.Generic;

namespace Shop
{
    public interface ISubmitter
    {
        void Submit(Order order);
    }

    public class Order : Entity, ISubmitter
    {
        public const int MaxRetries = 3;
        private readonly List<Line> lines = new List<Line>();

        public string Id { get; }

        public Order(string id)
        {
            Id = id;
        }

        public void Submit(Order order)
        {
            Validate(order);
            Console.WriteLine(order.Id);
        }

        private static void Validate(Order order) { }
    }

    public enum State { Open, Closed }

    public struct Line { public int Count; }

    public record Receipt(string Id);
}
